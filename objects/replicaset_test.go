package objects

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// Helpers shared by the tests of the workload and group kinds.

// testTemplate returns a valid, not yet defaulted pod template with labels.
func testTemplate(labels map[string]string) PodTemplateSpec {
	return PodTemplateSpec{
		ObjectMeta: ObjectMeta{Labels: labels},
		Spec:       PodSpec{Containers: []Container{{Name: "app", Image: "nginx:1.27"}}},
	}
}

func webLabels() map[string]string { return map[string]string{"app": "web"} }

func webSelector() *LabelSelector { return &LabelSelector{MatchLabels: webLabels()} }

// errorSummary lists each problem as "field: type", for table tests that
// check which fields are reported without repeating every message.
func errorSummary(errs ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+": "+string(e.Type))
	}
	return out
}

// validateThroughScheme defaults obj and validates it as the store would.
func validateThroughScheme(obj Object) error {
	s := NewScheme()
	s.Default(obj)
	return s.Validate(obj)
}

// decodeManifest decodes a one-document manifest written as for a real
// cluster, strictly, and checks that encoding the object gives back the
// same JSON: no field is lost or renamed. Empty status and null values
// that the encoder adds (as Kubernetes' does) are ignored.
func decodeManifest(t *testing.T, manifest string) Object {
	t.Helper()
	objs, err := NewScheme().DecodeBytes([]byte(manifest))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	wantJSON, err := yaml.YAMLToJSON([]byte(manifest))
	require.NoError(t, err)
	gotJSON, err := json.Marshal(objs[0])
	require.NoError(t, err)
	var want, got map[string]any
	require.NoError(t, json.Unmarshal(wantJSON, &want))
	require.NoError(t, json.Unmarshal(gotJSON, &got))
	if _, ok := want["status"]; !ok {
		delete(got, "status")
	}
	assert.Equal(t, dropNulls(want), dropNulls(got))
	return objs[0]
}

func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if x = dropNulls(x); x != nil {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		for i := range v {
			v[i] = dropNulls(v[i])
		}
	}
	return v
}

// jsonRoundTrip encodes obj, decodes it into a new object of its kind and
// checks both encode alike.
func jsonRoundTrip(t *testing.T, obj Object) {
	t.Helper()
	b, err := json.Marshal(obj)
	require.NoError(t, err)
	k, err := NewScheme().KindOf(obj)
	require.NoError(t, err)
	back := k.New()
	require.NoError(t, json.Unmarshal(b, back))
	b2, err := json.Marshal(back)
	require.NoError(t, err)
	assert.JSONEq(t, string(b), string(b2))
}

func newReplicaSet() *ReplicaSet {
	return &ReplicaSet{
		ObjectMeta: ObjectMeta{Name: "web-7c9f", Namespace: "default"},
		Spec:       ReplicaSetSpec{Selector: webSelector(), Template: testTemplate(webLabels())},
	}
}

func TestReplicaSetDefault(t *testing.T) {
	rs := newReplicaSet()
	rs.Default()
	assert.Equal(t, int32(1), *rs.Spec.Replicas)
	assert.Equal(t, RestartPolicyAlways, rs.Spec.Template.Spec.RestartPolicy, "template defaulted")

	rs = newReplicaSet()
	rs.Spec.Replicas = ptrTo[int32](0)
	rs.Default()
	assert.Equal(t, int32(0), *rs.Spec.Replicas, "explicit zero kept")
}

func TestReplicaSetValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*ReplicaSet)
		want   []string
	}{
		{"valid", func(*ReplicaSet) {}, nil},
		{"negative replicas", func(r *ReplicaSet) { r.Spec.Replicas = ptrTo[int32](-1) }, []string{"spec.replicas: Invalid value"}},
		{"negative minReadySeconds", func(r *ReplicaSet) { r.Spec.MinReadySeconds = -1 }, []string{"spec.minReadySeconds: Invalid value"}},
		{"no selector", func(r *ReplicaSet) { r.Spec.Selector = nil }, []string{"spec.selector: Required value"}},
		{"empty selector", func(r *ReplicaSet) { r.Spec.Selector = &LabelSelector{} }, []string{"spec.selector: Invalid value"}},
		{"selector mismatch", func(r *ReplicaSet) { r.Spec.Template.Labels = map[string]string{"app": "db"} },
			[]string{"spec.template.metadata.labels: Invalid value"}},
		{"bad selector operator", func(r *ReplicaSet) {
			r.Spec.Selector.MatchExpressions = []LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}
		}, []string{"spec.selector.matchExpressions[0].operator: Invalid value", "spec.selector: Invalid value"}},
		{"restartPolicy Never", func(r *ReplicaSet) { r.Spec.Template.Spec.RestartPolicy = RestartPolicyNever },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"activeDeadlineSeconds", func(r *ReplicaSet) { r.Spec.Template.Spec.ActiveDeadlineSeconds = ptrTo[int64](10) },
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden"}},
		{"template checked", func(r *ReplicaSet) { r.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := newReplicaSet()
			rs.Default()
			c.mutate(rs)
			assert.Equal(t, c.want, errorSummary(rs.Validate()))
		})
	}
}

func TestReplicaSetValidateMessages(t *testing.T) {
	rs := newReplicaSet()
	rs.Default()
	rs.Spec.Replicas = ptrTo[int32](-1)
	rs.Spec.Template.Spec.RestartPolicy = RestartPolicyOnFailure
	err := NewScheme().Validate(rs)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, `ReplicaSet "web-7c9f" is invalid: [`+
		`spec.replicas: Invalid value: -1: must be greater than or equal to 0, `+
		`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"]`, err.Error())

	rs = newReplicaSet()
	rs.Default()
	rs.Spec.Template.Labels = map[string]string{"app": "x"}
	errs := rs.Validate()
	require.Len(t, errs, 1)
	assert.Equal(t, "spec.template.metadata.labels", errs[0].Field)
	assert.Equal(t, ErrorTypeInvalid, errs[0].Type)
	assert.Equal(t, map[string]string{"app": "x"}, errs[0].BadValue)
	assert.Equal(t, "`selector` does not match template `labels`", errs[0].Detail)
}

func TestReplicaSetValidateUpdate(t *testing.T) {
	old := newReplicaSet()
	old.Default()

	scaled := old.DeepCopy()
	scaled.Spec.Replicas = ptrTo[int32](5)
	scaled.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	assert.Empty(t, scaled.ValidateUpdate(old))

	moved := old.DeepCopy()
	moved.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "front"}}
	moved.Spec.Template.Labels["tier"] = "front"
	errs := moved.ValidateUpdate(old)
	assert.Equal(t, []string{"spec.selector: Invalid value"}, errorSummary(errs))
	assert.Contains(t, errs[0].Error(), "field is immutable")

	assert.NotEmpty(t, old.ValidateUpdate(&Deployment{}), "a different kind is refused")
}

func TestReplicaSetManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  namespace: default
  labels: {app: guestbook}
spec:
  replicas: 3
  minReadySeconds: 5
  selector:
    matchLabels: {tier: frontend}
    matchExpressions:
    - {key: env, operator: In, values: [prod, staging]}
  template:
    metadata:
      labels: {tier: frontend, env: prod}
    spec:
      containers:
      - name: php-redis
        image: gcr.io/google_samples/gb-frontend:v3
status:
  replicas: 3
  fullyLabeledReplicas: 3
  readyReplicas: 2
  availableReplicas: 2
  observedGeneration: 4
  conditions:
  - type: ReplicaFailure
    status: "True"
    lastTransitionTime: "2024-05-01T10:00:00Z"
    reason: FailedCreate
    message: quota exceeded
`)
	rs := obj.(*ReplicaSet)
	assert.Equal(t, int32(3), *rs.Spec.Replicas)
	assert.Equal(t, ReplicaSetReplicaFailure, rs.Status.Conditions[0].Type)
	require.NoError(t, validateThroughScheme(rs))
	jsonRoundTrip(t, rs)
}

func TestSemanticEqual(t *testing.T) {
	assert.True(t, semanticEqual((*LabelSelector)(nil), &LabelSelector{}))
	assert.True(t, semanticEqual(map[string]string(nil), map[string]string{}))
	assert.True(t, semanticEqual(&LabelSelector{MatchLabels: map[string]string{"a": "b"}}, &LabelSelector{MatchLabels: map[string]string{"a": "b"}, MatchExpressions: []LabelSelectorRequirement{}}))
	assert.False(t, semanticEqual(&LabelSelector{MatchLabels: map[string]string{"a": "b"}}, &LabelSelector{MatchLabels: map[string]string{"a": "c"}}))
	assert.True(t, semanticEqual(ResourceList{"memory": MustParseQuantity("1Gi")}, ResourceList{"memory": MustParseQuantity("1Gi")}))
	assert.False(t, semanticEqual(ResourceList{"memory": MustParseQuantity("1Gi")}, ResourceList{"memory": MustParseQuantity("2Gi")}))
}

func TestIntOrPercentHelpers(t *testing.T) {
	p := NewPath("f")
	cases := []struct {
		v       IntOrString
		want    []string
		value   int
		over100 bool
	}{
		{FromInt32(3), nil, 3, false},
		{FromInt32(-1), []string{"f: Invalid value: -1: must be greater than or equal to 0"}, -1, false},
		{FromString("25%"), nil, 25, false},
		{FromString("150%"), nil, 150, true},
		{FromString("25"), []string{`f: Invalid value: "25": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`}, 25, false},
		{FromString("x%"), []string{`f: Invalid value: "x%": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`}, 0, false},
	}
	for _, c := range cases {
		t.Run(c.v.String(), func(t *testing.T) {
			v := c.v
			var got []string
			for _, e := range validatePositiveIntOrPercent(&v, p) {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
			assert.Equal(t, c.value, intOrPercentValue(&v))
			assert.Equal(t, c.over100, len(validateNotMoreThan100Percent(&v, p)) == 1)
		})
	}
}

func TestPodDeletionCost(t *testing.T) {
	for _, tc := range []struct {
		value string // "": no annotation
		want  int32
		ok    bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"42", 42, true},
		{"-7", -7, true},
		{"2147483647", 2147483647, true},
		{"-2147483648", -2147483648, true},
		{"2147483648", 0, false},
		{"+1", 0, false},
		{"01", 0, false},
		{"00", 0, false},
		{"1.5", 0, false},
		{"x", 0, false},
	} {
		ann := map[string]string{}
		if tc.value != "" {
			ann[PodDeletionCostAnnotation] = tc.value
		}
		got, err := PodDeletionCost(ann)
		require.Equal(t, tc.want, got, tc.value)
		require.Equal(t, tc.ok, err == nil, tc.value)
	}
	_, err := PodDeletionCost(map[string]string{PodDeletionCostAnnotation: ""})
	require.Error(t, err, "an empty value is invalid")
}

func TestReplicaSetStatus(t *testing.T) {
	r := newReplicaSet()
	r.Status = ReplicaSetStatus{Replicas: 2, ReadyReplicas: 2}
	r.PrepareForCreate()
	assert.Equal(t, ReplicaSetStatus{}, r.Status, "a new ReplicaSet has no status, whatever was sent")

	r.Status = ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 3, ReadyReplicas: -1}
	assertFieldErrors(t, []string{
		"status.readyReplicas: Invalid value: -1: must be greater than or equal to 0",
		"status.fullyLabeledReplicas: Invalid value: 3: cannot be greater than status.replicas",
		"status.availableReplicas: Invalid value: 0: cannot be greater than status.readyReplicas",
	}, r.ValidateStatusUpdate(newReplicaSet()))
}
