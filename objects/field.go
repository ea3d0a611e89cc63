package objects

import (
	"fmt"
	"strconv"
	"strings"
)

// Path is a field path such as spec.template.spec.containers[0].image, used
// to name the field a validation problem is about.
//
// +kubebuilder:object:generate=false
type Path struct {
	parent *Path
	name   string // field name, or empty for an index or key step
	index  string // "[0]" or "[key]"
}

// NewPath starts a path at the named root field.
func NewPath(name string, more ...string) *Path {
	p := &Path{name: name}
	for _, m := range more {
		p = p.Child(m)
	}
	return p
}

// Child returns the path to a field of p.
func (p *Path) Child(name string, more ...string) *Path {
	c := &Path{parent: p, name: name}
	for _, m := range more {
		c = c.Child(m)
	}
	return c
}

// Index returns the path to element i of the list at p.
func (p *Path) Index(i int) *Path { return &Path{parent: p, index: "[" + strconv.Itoa(i) + "]"} }

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
	case ErrorTypeInvalid, ErrorTypeDuplicate, ErrorTypeNotSupported:
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
