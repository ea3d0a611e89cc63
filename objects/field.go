package objects

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Path is a field path such as spec.template.spec.containers[0].image, used
// to name the field a validation problem is about.
//
// Paths are immutable and those made of field names and small indexes are
// made once and shared: validation names a path for each field it checks,
// pods by the thousand, and builds a path's text only for a problem.
//
// +kubebuilder:object:generate=false
type Path struct {
	parent *Path
	name   string // field name, or empty for an index or key step
	index  string // "[0]" or "[key]"

	// kids are the shared children of p (see child), copied on write.
	mu   sync.Mutex
	kids atomic.Pointer[[]*Path]
}

// roots holds the shared root paths.
var roots = &Path{}

// maxSharedIndex bounds the indexes whose paths are shared, so that the
// shared paths stay as few as the fields of the kinds.
const maxSharedIndex = 64

// NewPath starts a path at the named root field.
func NewPath(name string, more ...string) *Path {
	p := roots.child(name, "")
	for _, m := range more {
		p = p.Child(m)
	}
	return p
}

// Child returns the path to a field of p.
func (p *Path) Child(name string, more ...string) *Path {
	c := p.child(name, "")
	for _, m := range more {
		c = c.child(m, "")
	}
	return c
}

// Index returns the path to element i of the list at p.
func (p *Path) Index(i int) *Path {
	if i < 0 || i >= maxSharedIndex {
		return &Path{parent: p, index: "[" + strconv.Itoa(i) + "]"}
	}
	return p.child("", indexTexts[i])
}

var indexTexts = func() (t [maxSharedIndex]string) {
	for i := range t {
		t[i] = "[" + strconv.Itoa(i) + "]"
	}
	return t
}()

// child returns the shared child of p named name (a field) or index.
func (p *Path) child(name, index string) *Path {
	if kids := p.kids.Load(); kids != nil {
		for _, k := range *kids {
			if k.name == name && k.index == index {
				return k
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var kids []*Path
	if cur := p.kids.Load(); cur != nil {
		for _, k := range *cur {
			if k.name == name && k.index == index {
				return k
			}
		}
		kids = append(kids, *cur...)
	}
	parent := p
	if p == roots {
		parent = nil
	}
	c := &Path{parent: parent, name: name, index: index}
	kids = append(kids, c)
	p.kids.Store(&kids)
	return c
}

// Key returns the path to entry k of the map at p.
func (p *Path) Key(k string) *Path { return &Path{parent: p, index: "[" + k + "]"} }

// String renders the path as Kubernetes does.
func (p *Path) String() string {
	if p == nil {
		return "<nil>"
	}
	var parts []*Path
	for q := p; q != nil; q = q.parent {
		parts = append(parts, q)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		q := parts[i]
		if q.index != "" {
			b.WriteString(q.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(q.name)
	}
	return b.String()
}

// ErrorType is the class of a validation problem, worded as Kubernetes words it.
type ErrorType string

// Validation error types.
const (
	ErrorTypeRequired     ErrorType = "Required value"
	ErrorTypeInvalid      ErrorType = "Invalid value"
	ErrorTypeDuplicate    ErrorType = "Duplicate value"
	ErrorTypeNotSupported ErrorType = "Unsupported value"
	ErrorTypeForbidden    ErrorType = "Forbidden"
	ErrorTypeTooLong      ErrorType = "Too long"
	ErrorTypeTooMany      ErrorType = "Too many"
	ErrorTypeNotFound     ErrorType = "Not found"
)

// FieldError is one problem with one field of an object.
//
// +kubebuilder:object:generate=false
type FieldError struct {
	Type     ErrorType
	Field    string
	BadValue any
	Detail   string
}

// Error renders the problem as Kubernetes does:
// "spec.replicas: Invalid value: -1: must be greater than or equal to 0".
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Field)
	b.WriteString(": ")
	b.WriteString(string(e.Type))
	switch e.Type {
	case ErrorTypeInvalid, ErrorTypeDuplicate, ErrorTypeNotSupported, ErrorTypeTooMany, ErrorTypeNotFound:
		if e.BadValue != nil {
			b.WriteString(": ")
			b.WriteString(formatValue(e.BadValue))
		}
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// formatValue prints a bad value as Kubernetes' field errors do.
func formatValue(v any) string {
	switch v := v.(type) {
	case int, int64, int32, float64, float32, bool:
		return fmt.Sprint(v)
	case string:
		return strconv.Quote(v)
	case *string:
		if v == nil {
			return "null"
		}
		return strconv.Quote(*v)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprintf("%#v", v)
}

// Required reports a missing required field.
func Required(p *Path, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeRequired, Field: p.String(), Detail: detail}
}

// Invalid reports a field whose value is wrong.
func Invalid(p *Path, value any, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeInvalid, Field: p.String(), BadValue: value, Detail: detail}
}

// Duplicate reports a value that must be unique but is repeated.
func Duplicate(p *Path, value any) *FieldError {
	return &FieldError{Type: ErrorTypeDuplicate, Field: p.String(), BadValue: value}
}

// NotFound reports a value that names something that does not exist.
func NotFound(p *Path, value any) *FieldError {
	return &FieldError{Type: ErrorTypeNotFound, Field: p.String(), BadValue: value}
}

// NotSupported reports a value outside a fixed set; the set is listed.
func NotSupported(p *Path, value any, valid []string) *FieldError {
	d := ""
	if len(valid) > 0 {
		q := make([]string, len(valid))
		for i, v := range valid {
			q[i] = strconv.Quote(v)
		}
		d = "supported values: " + strings.Join(q, ", ")
	}
	return &FieldError{Type: ErrorTypeNotSupported, Field: p.String(), BadValue: value, Detail: d}
}

// Forbidden reports a field that may not be set, or set this way.
func Forbidden(p *Path, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeForbidden, Field: p.String(), Detail: detail}
}

// TooLong reports a value longer than allowed.
func TooLong(p *Path, value any, max int) *FieldError {
	return &FieldError{Type: ErrorTypeTooLong, Field: p.String(), BadValue: value,
		Detail: fmt.Sprintf("must have at most %d bytes", max)}
}

// TooMany reports a list with more items than allowed.
func TooMany(p *Path, actual, max int) *FieldError {
	return &FieldError{Type: ErrorTypeTooMany, Field: p.String(), BadValue: actual,
		Detail: fmt.Sprintf("must have at most %d items", max)}
}

// ErrorList collects every problem found in one object.
//
// +kubebuilder:object:generate=false
type ErrorList []*FieldError

// Error joins the problems, or returns "" when there are none.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	if len(s) == 1 {
		return s[0]
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// InvalidError is returned when an object is rejected: it names the object
// and lists every problem found, so the whole object can be fixed at once.
//
// +kubebuilder:object:generate=false
type InvalidError struct {
	Kind   string
	Name   string
	Errors ErrorList
}

// Error renders the rejection as Kubernetes does:
// `Deployment "web" is invalid: spec.replicas: Invalid value: ...`.
func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s %q is invalid: %s", e.Kind, e.Name, e.Errors.Error())
}

// Is makes errors.Is(err, ErrInvalid) true for every InvalidError.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ErrInvalid is matched by errors.Is for every validation failure.
var ErrInvalid = fmt.Errorf("invalid object")

// ToError returns nil for an empty list, else an InvalidError naming obj.
func (l ErrorList) ToError(kind, name string) error {
	if len(l) == 0 {
		return nil
	}
	return &InvalidError{Kind: kind, Name: name, Errors: l}
}
