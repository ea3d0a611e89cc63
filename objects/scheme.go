package objects

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// KindInfo describes one kind a Scheme knows.
//
// +kubebuilder:object:generate=false
type KindInfo struct {
	// APIVersion is the group and version, "v1" or "apps/v1".
	APIVersion string
	// Kind is the kind's name, "Deployment".
	Kind string
	// Namespaced is false for cluster-scoped kinds such as Node.
	Namespaced bool
	// New returns a new empty object of the kind.
	New func() Object

	typ       reflect.Type
	hasStatus bool
}

// Group returns the API group of the kind ("" for the core group).
func (k *KindInfo) Group() string {
	if i := strings.IndexByte(k.APIVersion, '/'); i >= 0 {
		return k.APIVersion[:i]
	}
	return ""
}

// HasStatus reports whether the kind has a Status field, which Update leaves
// alone and UpdateStatus writes.
func (k *KindInfo) HasStatus() bool { return k.hasStatus }

// Defaulter is implemented by kinds that fill in defaults before validation.
//
// +kubebuilder:object:generate=false
type Defaulter interface {
	Default()
}

// Validator is implemented by kinds that check their own fields. Metadata is
// checked by the Scheme for every kind.
//
// +kubebuilder:object:generate=false
type Validator interface {
	Validate() ErrorList
}

// CreateValidator is implemented by kinds with rules only a new object
// must follow, checked before the store assigns its uid: a Job may not name
// a selector without manualSelector, since the store generates it.
//
// +kubebuilder:object:generate=false
type CreateValidator interface {
	ValidateCreate() ErrorList
}

// UpdateValidator is implemented by kinds with fields that may not change
// once created; old is the stored object.
//
// +kubebuilder:object:generate=false
type UpdateValidator interface {
	ValidateUpdate(old Object) ErrorList
}

// StatusValidator is implemented by kinds whose status has rules, checked
// when a status is written through the orchestrator (UpdateStatus), as
// Kubernetes' status strategies validate a status update; old is the
// stored object, whose metadata the write keeps. Errors name
// status.<field>.
//
// +kubebuilder:object:generate=false
type StatusValidator interface {
	ValidateStatusUpdate(old Object) ErrorList
}

// NameValidator is implemented by kinds whose names follow another rule
// than the DNS-1123 subdomain of most kinds, as RBAC roles and bindings
// need only be path segments ("system:controller:x"); ValidateName
// returns why name is not valid, or nothing.
//
// +kubebuilder:object:generate=false
type NameValidator interface {
	ValidateName(name string) []string
}

// Scheme maps kinds to Go types and back. Each Orchestrator and store has its
// own; nothing is registered globally. NewScheme returns one holding every
// built-in kind, and a host program registers its own kinds on it.
//
// A Scheme is safe for concurrent reads once registration is done; register
// every kind before handing the scheme to a store or orchestrator.
//
// +kubebuilder:object:generate=false
type Scheme struct {
	byKind map[string]*KindInfo // by Kind
	byGVK  map[GroupVersionKind]*KindInfo
	byType map[reflect.Type]*KindInfo
}

// NewScheme returns a scheme holding every built-in kind.
func NewScheme() *Scheme {
	s := &Scheme{
		byKind: map[string]*KindInfo{},
		byGVK:  map[GroupVersionKind]*KindInfo{},
		byType: map[reflect.Type]*KindInfo{},
	}
	for _, k := range builtinKinds() {
		if err := s.Register(k); err != nil {
			panic(err) // the built-in table is fixed; a clash is a programming error
		}
	}
	return s
}

// Register adds a kind. The Go type returned by New must be a pointer to a
// struct embedding TypeMeta and ObjectMeta; kind names must be unique.
func (s *Scheme) Register(info KindInfo) error {
	if info.Kind == "" || info.APIVersion == "" || info.New == nil {
		return fmt.Errorf("register kind: Kind, APIVersion and New are required")
	}
	if _, ok := s.byKind[info.Kind]; ok {
		return fmt.Errorf("register kind %s: already registered", info.Kind)
	}
	obj := info.New()
	t := reflect.TypeOf(obj)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("register kind %s: New must return a pointer to a struct, got %s", info.Kind, t)
	}
	if _, ok := s.byType[t]; ok {
		return fmt.Errorf("register kind %s: Go type %s already registered", info.Kind, t)
	}
	_, info.hasStatus = t.Elem().FieldByName("Status")
	info.typ = t
	k := &info
	s.byKind[k.Kind] = k
	s.byGVK[GroupVersionKind{APIVersion: k.APIVersion, Kind: k.Kind}] = k
	s.byType[t] = k
	return nil
}

// Lookup returns the kind registered under name, or nil.
func (s *Scheme) Lookup(kind string) *KindInfo { return s.byKind[kind] }

// LookupGVK returns the kind registered for apiVersion and kind, or nil.
func (s *Scheme) LookupGVK(apiVersion, kind string) *KindInfo {
	return s.byGVK[GroupVersionKind{APIVersion: apiVersion, Kind: kind}]
}

// KindOf returns the kind of obj, from its Go type.
func (s *Scheme) KindOf(obj Object) (*KindInfo, error) {
	if k, ok := s.byType[reflect.TypeOf(obj)]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%T is not a registered kind", obj)
}

// KindFor returns the kind whose Go type is T.
func KindFor[T Object](s *Scheme) (*KindInfo, error) {
	var zero T
	return s.KindOf(zero)
}

// Kinds returns every registered kind, sorted by name.
func (s *Scheme) Kinds() []*KindInfo {
	out := make([]*KindInfo, 0, len(s.byKind))
	for _, k := range s.byKind {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// SetTypeMeta fills obj's apiVersion and kind from its Go type, and checks
// that any values already there match.
func (s *Scheme) SetTypeMeta(obj Object) (*KindInfo, error) {
	k, err := s.KindOf(obj)
	if err != nil {
		return nil, err
	}
	tm := obj.GetTypeMeta()
	if tm.Kind != "" && tm.Kind != k.Kind {
		return nil, fmt.Errorf("kind: Invalid value: %q: a %T is a %s", tm.Kind, obj, k.Kind)
	}
	if tm.APIVersion != "" && tm.APIVersion != k.APIVersion {
		return nil, fmt.Errorf("apiVersion: Invalid value: %q: %s is served as %s", tm.APIVersion, k.Kind, k.APIVersion)
	}
	tm.Kind, tm.APIVersion = k.Kind, k.APIVersion
	return k, nil
}

// Default fills in defaults of obj in place, as Kubernetes' defaulting does.
func (s *Scheme) Default(obj Object) {
	if d, ok := obj.(Defaulter); ok {
		d.Default()
	}
}

// Validate checks a new object: its metadata for every kind, then the kind's
// own fields, then what only a new object must follow (CreateValidator).
// The returned error is an *InvalidError listing every problem.
func (s *Scheme) Validate(obj Object) error {
	k, err := s.SetTypeMeta(obj)
	if err != nil {
		return err
	}
	errs := validateMetaOf(obj, k.Namespaced)
	if v, ok := obj.(Validator); ok {
		errs = append(errs, v.Validate()...)
	}
	if v, ok := obj.(CreateValidator); ok {
		errs = append(errs, v.ValidateCreate()...)
	}
	return errs.ToError(k.Kind, objectName(obj))
}

// ValidateUpdate checks obj as a replacement for old: everything Validate
// checks but the rules of a new object (CreateValidator), plus the fields
// that may not change.
func (s *Scheme) ValidateUpdate(obj, old Object) error {
	k, err := s.SetTypeMeta(obj)
	if err != nil {
		return err
	}
	errs := validateMetaOf(obj, k.Namespaced)
	errs = append(errs, validateObjectMetaUpdate(obj.GetObjectMeta(), old.GetObjectMeta(), NewPath("metadata"))...)
	if v, ok := obj.(Validator); ok {
		errs = append(errs, v.Validate()...)
	}
	if v, ok := obj.(UpdateValidator); ok {
		errs = append(errs, v.ValidateUpdate(old)...)
	}
	return errs.ToError(k.Kind, objectName(obj))
}

// ValidateStatusUpdate checks obj's status as a replacement for the status
// of old, the stored object (see StatusValidator). Kinds without rules for
// their status accept any.
func (s *Scheme) ValidateStatusUpdate(obj, old Object) error {
	k, err := s.SetTypeMeta(obj)
	if err != nil {
		return err
	}
	v, ok := obj.(StatusValidator)
	if !ok {
		return nil
	}
	return v.ValidateStatusUpdate(old).ToError(k.Kind, objectName(obj))
}

// validateMetaOf checks obj's metadata by ValidateObjectMeta, with the
// kind's own name rule when it has one.
func validateMetaOf(obj Object, namespaced bool) ErrorList {
	rule := IsDNS1123Subdomain
	if v, ok := obj.(NameValidator); ok {
		rule = v.ValidateName
	}
	return validateObjectMetaNamed(obj.GetObjectMeta(), namespaced, rule, NewPath("metadata"))
}

func objectName(obj Object) string {
	m := obj.GetObjectMeta()
	if m.Name == "" && m.GenerateName != "" {
		return m.GenerateName
	}
	return m.Name
}
