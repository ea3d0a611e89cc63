package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	_ Defaulter       = (*ReplicationController)(nil)
	_ Validator       = (*ReplicationController)(nil)
	_ StatusValidator = (*ReplicationController)(nil)
)

// The guestbook's redis-master, as kubernetes/examples writes it.
const redisMasterRC = `
apiVersion: v1
kind: ReplicationController
metadata:
  name: redis-master
  labels: {app: redis, role: master}
spec:
  replicas: 1
  selector: {app: redis, role: master}
  template:
    metadata:
      labels: {app: redis, role: master}
    spec:
      containers:
      - name: redis-master
        image: redis:7
        ports:
        - name: redis-server
          containerPort: 6379
`

func newReplicationController() *ReplicationController {
	t := testTemplate(webLabels())
	return &ReplicationController{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       ReplicationControllerSpec{Template: &t},
	}
}

func TestReplicationControllerManifest(t *testing.T) {
	rc := decodeManifest(t, redisMasterRC).(*ReplicationController)
	assert.Equal(t, "ReplicationController", rc.Kind)
	assert.Equal(t, map[string]string{"app": "redis", "role": "master"}, rc.Spec.Selector)
	assert.Equal(t, int32(6379), rc.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort)
	jsonRoundTrip(t, rc)
	rc.Namespace = "default" // Apply's default
	require.NoError(t, validateThroughScheme(rc))

	_, err := NewScheme().DecodeBytes([]byte(redisMasterRC + "  paused: true\n"))
	require.Error(t, err, "decoding is strict")
	assert.Contains(t, err.Error(), "paused")
}

func TestReplicationControllerDefault(t *testing.T) {
	rc := newReplicationController()
	rc.Default()
	assert.Equal(t, int32(1), *rc.Spec.Replicas)
	assert.Equal(t, webLabels(), rc.Spec.Selector, "selector from the template's labels")
	assert.Equal(t, webLabels(), rc.Labels, "labels from the template's labels")
	assert.Equal(t, RestartPolicyAlways, rc.Spec.Template.Spec.RestartPolicy, "template defaulted")
	rc.Spec.Selector["x"] = "y"
	assert.NotContains(t, rc.Spec.Template.Labels, "x", "the selector is a copy")

	rc = newReplicationController()
	rc.Labels = map[string]string{"own": "label"}
	rc.Spec.Selector = map[string]string{"app": "web"}
	rc.Spec.Template.Labels["tier"] = "front"
	rc.Spec.Replicas = ptrTo[int32](0)
	rc.Default()
	assert.Equal(t, map[string]string{"own": "label"}, rc.Labels, "set labels kept")
	assert.Equal(t, map[string]string{"app": "web"}, rc.Spec.Selector, "set selector kept")
	assert.Equal(t, int32(0), *rc.Spec.Replicas, "explicit zero kept")

	rc = &ReplicationController{ObjectMeta: ObjectMeta{Name: "empty"}}
	rc.Default()
	assert.Nil(t, rc.Spec.Selector, "nothing to default the selector from")
}

func TestReplicationControllerValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*ReplicationController)
		want   []string
	}{
		{"valid", func(*ReplicationController) {}, nil},
		{"negative replicas", func(r *ReplicationController) { r.Spec.Replicas = ptrTo[int32](-1) }, []string{"spec.replicas: Invalid value"}},
		{"no replicas", func(r *ReplicationController) { r.Spec.Replicas = nil }, []string{"spec.replicas: Required value"}},
		{"negative minReadySeconds", func(r *ReplicationController) { r.Spec.MinReadySeconds = -1 }, []string{"spec.minReadySeconds: Invalid value"}},
		{"empty selector", func(r *ReplicationController) { r.Spec.Selector = nil }, []string{"spec.selector: Required value"}},
		{"no template", func(r *ReplicationController) { r.Spec.Template = nil }, []string{"spec.template: Required value"}},
		{"selector mismatch", func(r *ReplicationController) { r.Spec.Template.Labels = map[string]string{"app": "db"} },
			[]string{"spec.template.metadata.labels: Invalid value"}},
		{"restartPolicy Never", func(r *ReplicationController) { r.Spec.Template.Spec.RestartPolicy = RestartPolicyNever },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"activeDeadlineSeconds", func(r *ReplicationController) { r.Spec.Template.Spec.ActiveDeadlineSeconds = ptrTo[int64](10) },
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden"}},
		{"template checked", func(r *ReplicationController) { r.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReplicationController()
			rc.Default()
			c.mutate(rc)
			assert.Equal(t, c.want, errorSummary(rc.Validate()))
		})
	}
}

func TestReplicationControllerValidateMessages(t *testing.T) {
	rc := newReplicationController()
	rc.Spec.Template.Labels = nil // nothing to default the selector from
	err := validateThroughScheme(rc)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, `ReplicationController "web" is invalid: spec.selector: Required value`, err.Error())

	rc = newReplicationController()
	rc.Default()
	rc.Spec.Replicas = ptrTo[int32](-1)
	rc.Spec.Template.Labels = map[string]string{"app": "x"}
	rc.Spec.Template.Spec.RestartPolicy = RestartPolicyOnFailure
	rc.Spec.Template.Spec.ActiveDeadlineSeconds = ptrTo[int64](5)
	err = NewScheme().Validate(rc)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, `ReplicationController "web" is invalid: [`+
		`spec.replicas: Invalid value: -1: must be greater than or equal to 0, `+
		"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`, "+
		`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always", `+
		`spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported]`, err.Error())
}

func TestReplicationControllerStatus(t *testing.T) {
	r := newReplicationController()
	r.Status = ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 2}
	r.PrepareForCreate()
	assert.Equal(t, ReplicationControllerStatus{}, r.Status, "a new ReplicationController has no status, whatever was sent")

	r.Status = ReplicationControllerStatus{Replicas: 2, FullyLabeledReplicas: 3, ReadyReplicas: -1}
	assertFieldErrors(t, []string{
		"status.readyReplicas: Invalid value: -1: must be greater than or equal to 0",
		"status.fullyLabeledReplicas: Invalid value: 3: cannot be greater than status.replicas",
		"status.availableReplicas: Invalid value: 0: cannot be greater than readyReplicas",
	}, r.ValidateStatusUpdate(newReplicationController()))
}

func TestReplicationControllerScale(t *testing.T) {
	rc := newReplicationController()
	rc.Default()
	var s Scalable = rc
	assert.Equal(t, int32(1), s.SpecReplicas())
	s.SetSpecReplicas(4)
	assert.Equal(t, int32(4), *rc.Spec.Replicas)
	assert.Equal(t, &LabelSelector{MatchLabels: webLabels()}, s.ScaleSelector())
	rc.Spec.Selector = nil
	assert.Nil(t, s.ScaleSelector())
}
