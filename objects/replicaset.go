package objects

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
)

// ReplicaSet keeps a number of identical pods running (apps/v1).
type ReplicaSet struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   ReplicaSetSpec   `json:"spec,omitempty"`
	Status ReplicaSetStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (r *ReplicaSet) DeepCopyObject() Object { return r.DeepCopy() }

// PodDeletionCostAnnotation ranks a ReplicaSet's pods for scale-down: of
// pods otherwise alike (as far as scheduling, phase and readiness go) the
// one with the lower cost is deleted first. The value is a 32-bit integer
// (default 0), as in Kubernetes.
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// PodDeletionCost returns the pod's deletion cost from its annotations: 0
// when it has none, and an error (with 0) when the value is not a 32-bit
// integer written without a plus sign or leading zeros, as Kubernetes'
// GetDeletionCostFromPodAnnotations reads it.
func PodDeletionCost(annotations map[string]string) (int32, error) {
	v, ok := annotations[PodDeletionCostAnnotation]
	if !ok {
		return 0, nil
	}
	if v == "" || !(v[0] == '-' || v == "0" || (v[0] >= '1' && v[0] <= '9')) {
		return 0, fmt.Errorf("%s: invalid value %q: must be a 32-bit integer", PodDeletionCostAnnotation, v)
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: invalid value %q: must be a 32-bit integer", PodDeletionCostAnnotation, v)
	}
	return int32(n), nil
}

// ReplicaSetSpec is the desired state of a ReplicaSet.
type ReplicaSetSpec struct {
	// Replicas defaults to 1.
	Replicas        *int32          `json:"replicas,omitempty"`
	MinReadySeconds int32           `json:"minReadySeconds,omitempty"`
	Selector        *LabelSelector  `json:"selector"`
	Template        PodTemplateSpec `json:"template,omitempty"`
}

// ReplicaSetStatus is the observed state of a ReplicaSet.
type ReplicaSetStatus struct {
	Replicas             int32                 `json:"replicas"`
	FullyLabeledReplicas int32                 `json:"fullyLabeledReplicas,omitempty"`
	ReadyReplicas        int32                 `json:"readyReplicas,omitempty"`
	AvailableReplicas    int32                 `json:"availableReplicas,omitempty"`
	ObservedGeneration   int64                 `json:"observedGeneration,omitempty"`
	Conditions           []ReplicaSetCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// ReplicaSetConditionType names a ReplicaSet condition.
type ReplicaSetConditionType string

// ReplicaSetReplicaFailure is set when a pod could not be created or deleted.
const ReplicaSetReplicaFailure ReplicaSetConditionType = "ReplicaFailure"

// ReplicaSetCondition describes one aspect of a ReplicaSet's state.
type ReplicaSetCondition struct {
	Type               ReplicaSetConditionType `json:"type"`
	Status             ConditionStatus         `json:"status"`
	LastTransitionTime Time                    `json:"lastTransitionTime,omitempty"`
	Reason             string                  `json:"reason,omitempty"`
	Message            string                  `json:"message,omitempty"`
}

// PrepareForCreate implements store.CreatePreparer: a new ReplicaSet has
// no status, whatever was sent, as Kubernetes' strategy clears it.
func (r *ReplicaSet) PrepareForCreate() { r.Status = ReplicaSetStatus{} }

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateReplicaSetStatus.
func (r *ReplicaSet) ValidateStatusUpdate(Object) ErrorList {
	st := &r.Status
	p := NewPath("status")
	replicas, ready, available := statusCount{"replicas", st.Replicas}, statusCount{"readyReplicas", st.ReadyReplicas}, statusCount{"availableReplicas", st.AvailableReplicas}
	labeled := statusCount{"fullyLabeledReplicas", st.FullyLabeledReplicas}
	errs := validateStatusCounts(p, st.ObservedGeneration, nil, replicas, labeled, ready, available)
	errs = append(errs, validateNotAbove(p, replicas, labeled, ready, available)...)
	return append(errs, validateNotAbove(p, ready, available)...)
}

// statusCount is one count of a workload's status and its field name.
type statusCount struct {
	field string
	n     int32
}

// validateStatusCounts checks that a workload's observed generation,
// collision count (when set) and counts are not negative.
func validateStatusCounts(p *Path, observedGeneration int64, collisionCount *int32, counts ...statusCount) ErrorList {
	errs := validateNonnegative(observedGeneration, p.Child("observedGeneration"))
	for _, c := range counts {
		errs = append(errs, validateNonnegative(int64(c.n), p.Child(c.field))...)
	}
	if collisionCount != nil {
		errs = append(errs, validateNonnegative(int64(*collisionCount), p.Child("collisionCount"))...)
	}
	return errs
}

// validateNotAbove checks that no count exceeds limit.
func validateNotAbove(p *Path, limit statusCount, counts ...statusCount) ErrorList {
	var errs ErrorList
	msg := "cannot be greater than " + p.Child(limit.field).String()
	for _, c := range counts {
		if c.n > limit.n {
			errs = append(errs, Invalid(p.Child(c.field), c.n, msg))
		}
	}
	return errs
}

// Default fills in defaults as Kubernetes' SetDefaults_ReplicaSet does.
func (r *ReplicaSet) Default() {
	if r.Spec.Replicas == nil {
		r.Spec.Replicas = ptrTo[int32](1)
	}
	DefaultPodSpec(&r.Spec.Template.Spec)
}

// Validate checks the spec as Kubernetes' ValidateReplicaSetSpec does.
func (r *ReplicaSet) Validate() ErrorList {
	p := NewPath("spec")
	var errs ErrorList
	if r.Spec.Replicas != nil {
		errs = append(errs, validateNonnegative(int64(*r.Spec.Replicas), p.Child("replicas"))...)
	}
	errs = append(errs, validateNonnegative(int64(r.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, validateWorkloadTemplate(r.Spec.Selector, &r.Spec.Template, "ReplicaSet", p)...)
	return errs
}

// ValidateUpdate rejects a changed selector, as apps/v1 does.
func (r *ReplicaSet) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*ReplicaSet)
	if !ok {
		return ErrorList{wrongOldType(old, r)}
	}
	return validateImmutable(r.Spec.Selector, o.Spec.Selector, NewPath("spec", "selector"))
}

// Shared by the workload kinds (ReplicaSet, Deployment, StatefulSet,
// DaemonSet, Job).

// ptrTo returns a pointer to v, for optional fields.
func ptrTo[T any](v T) *T { return &v }

// wrongOldType reports an update whose old object is of another kind; the
// Scheme never does this, a caller bypassing it might.
func wrongOldType(old, obj Object) *FieldError {
	return Invalid(NewPath("kind"), fmt.Sprintf("%T", old), fmt.Sprintf("cannot validate an update of %T against it", obj))
}

func validateNonnegative(v int64, p *Path) ErrorList {
	if v < 0 {
		return ErrorList{Invalid(p, v, "must be greater than or equal to 0")}
	}
	return nil
}

// validateImmutable reports a field that changed, comparing as Kubernetes'
// semantic equality does (nil and empty are the same; quantities by value).
func validateImmutable(newVal, oldVal any, p *Path) ErrorList {
	if semanticEqual(newVal, oldVal) {
		return nil
	}
	return ErrorList{Invalid(p, derefForError(newVal), "field is immutable")}
}

// semanticEqual compares two values by their JSON form, which treats nil
// and empty collections alike (as omitempty drops both) and compares
// quantities in their canonical form.
func semanticEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return bytes.Equal(normaliseEmptyJSON(ja), normaliseEmptyJSON(jb))
}

// normaliseEmptyJSON maps the encodings of a nil or empty value to one form.
func normaliseEmptyJSON(b []byte) []byte {
	switch string(b) {
	case "null", "{}", "[]", `""`:
		return nil
	}
	return b
}

// derefForError turns a pointer into the value it points at, and a named
// string type into a string, so that an error message shows the value as
// Kubernetes shows it rather than an address.
func derefForError(v any) any {
	if s, ok := v.(*IntOrString); ok && s != nil {
		if s.Type == StringType {
			return s.StrVal
		}
		return s.IntVal
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nullValue{}
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Invalid:
		return nullValue{}
	case reflect.String:
		return rv.String()
	case reflect.Struct, reflect.Map, reflect.Slice:
		// Go syntax of a nested struct would show pointer addresses.
		return jsonValue{rv.Interface()}
	}
	return rv.Interface()
}

// nullValue prints as null in an error message.
type nullValue struct{}

func (nullValue) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("null")) }

// jsonValue prints a composite value as compact JSON in an error message.
type jsonValue struct{ v any }

func (j jsonValue) Format(f fmt.State, _ rune) {
	b, err := json.Marshal(j.v)
	if err != nil {
		_, _ = fmt.Fprintf(f, "%v", j.v)
		return
	}
	_, _ = f.Write(b)
}

// validateWorkloadTemplate checks what every controller of long-running
// pods requires: a non-empty selector that matches the template's labels,
// a valid template, restartPolicy Always and no activeDeadlineSeconds.
func validateWorkloadTemplate(sel *LabelSelector, t *PodTemplateSpec, kind string, spec *Path) ErrorList {
	errs := validateWorkloadSelector(sel, t, kind, spec)
	tp := spec.Child("template")
	errs = append(errs, ValidatePodTemplateSpec(t, tp)...)
	errs = append(errs, validateAlwaysRestart(t, kind, tp)...)
	return errs
}

// validateAlwaysRestart requires restartPolicy Always and no
// activeDeadlineSeconds: pods of a ReplicaSet, StatefulSet or DaemonSet
// never finish.
func validateAlwaysRestart(t *PodTemplateSpec, kind string, tp *Path) ErrorList {
	var errs ErrorList
	// Values no pod may have are reported by the pod spec's validation.
	if rp := t.Spec.RestartPolicy; rp == RestartPolicyOnFailure || rp == RestartPolicyNever {
		errs = append(errs, NotSupported(tp.Child("spec", "restartPolicy"), string(t.Spec.RestartPolicy), []string{string(RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

// validateWorkloadSelector checks that sel is set, valid, not empty, and
// selects the template's labels.
func validateWorkloadSelector(sel *LabelSelector, t *PodTemplateSpec, kind string, spec *Path) ErrorList {
	sp := spec.Child("selector")
	if sel == nil {
		return ErrorList{Required(sp, "")}
	}
	errs := ValidateLabelSelector(sel, sp)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, Invalid(sp, derefForError(sel), "empty selector is invalid for "+lowerASCII(kind)))
	}
	errs = append(errs, validateSelectorMatchesTemplate(sel, t, spec)...)
	return errs
}

// validateSelectorMatchesTemplate checks that sel, when it parses, selects
// the pods the template would create.
func validateSelectorMatchesTemplate(sel *LabelSelector, t *PodTemplateSpec, spec *Path) ErrorList {
	s, err := LabelSelectorAsSelector(sel)
	if err != nil {
		return ErrorList{Invalid(spec.Child("selector"), derefForError(sel), "invalid label selector")}
	}
	if !s.Empty() && !s.Matches(t.Labels) {
		return ErrorList{Invalid(spec.Child("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`")}
	}
	return nil
}

var percentRe = regexp.MustCompile(`^[0-9]+%$`)

// validatePositiveIntOrPercent checks that v is a non-negative int or a
// percent string such as "25%".
func validatePositiveIntOrPercent(v *IntOrString, p *Path) ErrorList {
	if v == nil {
		return nil
	}
	switch v.Type {
	case StringType:
		if !percentRe.MatchString(v.StrVal) {
			return ErrorList{Invalid(p, derefForError(v), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")}
		}
	case IntType:
		return validateNonnegative(int64(v.IntVal), p)
	default:
		return ErrorList{Invalid(p, derefForError(v), "must be an integer or percentage (e.g '5%')")}
	}
	return nil
}

// percentValue returns the number of a valid percent string.
func percentValue(v *IntOrString) (int, bool) {
	if v == nil || v.Type != StringType || !percentRe.MatchString(v.StrVal) {
		return 0, false
	}
	n, err := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, err == nil
}

// intOrPercentValue returns the number in v, ignoring a percent sign; nil
// is 0.
func intOrPercentValue(v *IntOrString) int {
	if v == nil {
		return 0
	}
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

// validateNotMoreThan100Percent rejects percentages above 100%.
func validateNotMoreThan100Percent(v *IntOrString, p *Path) ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return ErrorList{Invalid(p, derefForError(v), "must not be greater than 100%")}
	}
	return nil
}
