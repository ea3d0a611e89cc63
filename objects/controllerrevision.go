package objects

import (
	"bytes"
	"encoding/json"
)

// ControllerRevision is an immutable snapshot of the state a controller
// rolls out, kept so that it can go back to it (apps/v1). The StatefulSet
// controller keeps one per pod template it has rolled out, named
// <set>-<hash>, owned by the set: the pods of a revision carry its name in
// their controller-revision-hash label, and a pod that must stay at an older
// revision is recreated from that revision's template.
type ControllerRevision struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// Data is the state, in a form the owning controller defines: for a
	// StatefulSet, the patch {"spec":{"template":{...,"$patch":"replace"}}}
	// that restores its pod template. It may not change.
	Data RawExtension `json:"data,omitempty"`
	// Revision orders the revisions of one owner; higher is newer. A
	// controller going back to an older revision raises its number.
	Revision int64 `json:"revision"`
}

// DeepCopyObject implements Object.
func (r *ControllerRevision) DeepCopyObject() Object { return r.DeepCopy() }

// RawExtension holds a JSON value as it was written, for fields whose
// content the API does not interpret (Kubernetes' runtime.RawExtension).
type RawExtension struct {
	// Raw is the value's JSON encoding; nil for none.
	Raw []byte `json:"-"`
}

// MarshalJSON writes Raw as it is ("null" when empty).
func (r RawExtension) MarshalJSON() ([]byte, error) {
	if len(r.Raw) == 0 {
		return []byte("null"), nil
	}
	return r.Raw, nil
}

// UnmarshalJSON keeps the value's encoding; null leaves Raw nil.
func (r *RawExtension) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		r.Raw = nil
		return nil
	}
	r.Raw = bytes.Clone(b)
	return nil
}

// Validate checks the revision as Kubernetes' ValidateControllerRevision
// does: data is required (and must be JSON), revision non-negative.
func (r *ControllerRevision) Validate() ErrorList {
	var errs ErrorList
	switch {
	case len(r.Data.Raw) == 0:
		errs = append(errs, Required(NewPath("data"), "data is mandatory"))
	case !json.Valid(r.Data.Raw):
		errs = append(errs, Invalid(NewPath("data"), string(r.Data.Raw), "must be a JSON value"))
	}
	errs = append(errs, validateNonnegative(r.Revision, NewPath("revision"))...)
	return errs
}

// ValidateUpdate keeps data as it was; the revision number may change.
func (r *ControllerRevision) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*ControllerRevision)
	if !ok {
		return ErrorList{wrongOldType(old, r)}
	}
	if bytes.Equal(compactJSON(r.Data.Raw), compactJSON(o.Data.Raw)) {
		return nil
	}
	return ErrorList{Invalid(NewPath("data"), string(r.Data.Raw), "field is immutable")}
}

// compactJSON drops insignificant space, so that data read back and
// written again compares equal to what was stored.
func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}
