package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newDeployment() *Deployment {
	return &Deployment{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       DeploymentSpec{Selector: webSelector(), Template: testTemplate(webLabels())},
	}
}

func TestDeploymentDefault(t *testing.T) {
	d := newDeployment()
	d.Default()
	s := d.Spec
	assert.Equal(t, int32(1), *s.Replicas)
	assert.Equal(t, RollingUpdateDeploymentStrategyType, s.Strategy.Type)
	require.NotNil(t, s.Strategy.RollingUpdate)
	assert.Equal(t, FromString("25%"), *s.Strategy.RollingUpdate.MaxSurge)
	assert.Equal(t, FromString("25%"), *s.Strategy.RollingUpdate.MaxUnavailable)
	assert.Equal(t, int32(10), *s.RevisionHistoryLimit)
	assert.Equal(t, int32(600), *s.ProgressDeadlineSeconds)
	assert.Equal(t, RestartPolicyAlways, s.Template.Spec.RestartPolicy)

	cases := []struct {
		name     string
		strategy DeploymentStrategy
		want     DeploymentStrategy
	}{
		{"recreate untouched", DeploymentStrategy{Type: RecreateDeploymentStrategyType},
			DeploymentStrategy{Type: RecreateDeploymentStrategyType}},
		{"surge kept, unavailable defaulted",
			DeploymentStrategy{RollingUpdate: &RollingUpdateDeployment{MaxSurge: ptrTo(FromInt32(2))}},
			DeploymentStrategy{Type: RollingUpdateDeploymentStrategyType, RollingUpdate: &RollingUpdateDeployment{
				MaxSurge: ptrTo(FromInt32(2)), MaxUnavailable: ptrTo(FromString("25%"))}}},
		{"zero kept",
			DeploymentStrategy{Type: RollingUpdateDeploymentStrategyType, RollingUpdate: &RollingUpdateDeployment{MaxUnavailable: ptrTo(FromInt32(0))}},
			DeploymentStrategy{Type: RollingUpdateDeploymentStrategyType, RollingUpdate: &RollingUpdateDeployment{
				MaxSurge: ptrTo(FromString("25%")), MaxUnavailable: ptrTo(FromInt32(0))}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDeployment()
			d.Spec.Strategy = c.strategy
			d.Spec.RevisionHistoryLimit = ptrTo[int32](0)
			d.Default()
			assert.Equal(t, c.want, d.Spec.Strategy)
			assert.Equal(t, int32(0), *d.Spec.RevisionHistoryLimit, "explicit zero kept")
		})
	}
}

func TestDeploymentValidate(t *testing.T) {
	ru := func(maxUnavailable, maxSurge IntOrString) DeploymentStrategy {
		return DeploymentStrategy{Type: RollingUpdateDeploymentStrategyType,
			RollingUpdate: &RollingUpdateDeployment{MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge}}
	}
	cases := []struct {
		name   string
		mutate func(*Deployment)
		want   []string
	}{
		{"valid", func(*Deployment) {}, nil},
		{"valid recreate", func(d *Deployment) { d.Spec.Strategy = DeploymentStrategy{Type: RecreateDeploymentStrategyType} }, nil},
		{"valid surge only", func(d *Deployment) { d.Spec.Strategy = ru(FromInt32(0), FromInt32(2)) }, nil},
		{"negative replicas", func(d *Deployment) { d.Spec.Replicas = ptrTo[int32](-1) }, []string{"spec.replicas: Invalid value"}},
		{"no selector", func(d *Deployment) { d.Spec.Selector = nil }, []string{"spec.selector: Required value"}},
		{"empty selector", func(d *Deployment) { d.Spec.Selector = &LabelSelector{} }, []string{"spec.selector: Invalid value"}},
		{"selector mismatch", func(d *Deployment) { d.Spec.Selector.MatchLabels["tier"] = "db" },
			[]string{"spec.template.metadata.labels: Invalid value"}},
		{"restartPolicy OnFailure", func(d *Deployment) { d.Spec.Template.Spec.RestartPolicy = RestartPolicyOnFailure },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"both zero", func(d *Deployment) { d.Spec.Strategy = ru(FromInt32(0), FromString("0%")) },
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"bad percent", func(d *Deployment) { d.Spec.Strategy = ru(FromString("25"), FromString("1%")) },
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"negative surge", func(d *Deployment) { d.Spec.Strategy = ru(FromInt32(1), FromInt32(-1)) },
			[]string{"spec.strategy.rollingUpdate.maxSurge: Invalid value"}},
		{"unavailable over 100%", func(d *Deployment) { d.Spec.Strategy = ru(FromString("101%"), FromInt32(0)) },
			[]string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"surge over 100% allowed", func(d *Deployment) { d.Spec.Strategy = ru(FromInt32(0), FromString("200%")) }, nil},
		{"recreate with rollingUpdate", func(d *Deployment) { d.Spec.Strategy.Type = RecreateDeploymentStrategyType },
			[]string{"spec.strategy.rollingUpdate: Forbidden"}},
		{"rolling without params", func(d *Deployment) { d.Spec.Strategy.RollingUpdate = nil },
			[]string{"spec.strategy.rollingUpdate: Required value"}},
		{"unknown strategy", func(d *Deployment) { d.Spec.Strategy = DeploymentStrategy{Type: "BlueGreen"} },
			[]string{"spec.strategy.type: Unsupported value"}},
		{"negative history", func(d *Deployment) { d.Spec.RevisionHistoryLimit = ptrTo[int32](-1) },
			[]string{"spec.revisionHistoryLimit: Invalid value"}},
		{"deadline not above minReady", func(d *Deployment) {
			d.Spec.MinReadySeconds = 30
			d.Spec.ProgressDeadlineSeconds = ptrTo[int32](30)
		}, []string{"spec.progressDeadlineSeconds: Invalid value"}},
		{"negative minReady", func(d *Deployment) { d.Spec.MinReadySeconds = -1 }, []string{"spec.minReadySeconds: Invalid value"}},
		{"several problems at once", func(d *Deployment) {
			d.Spec.Replicas = ptrTo[int32](-2)
			d.Spec.Template.Spec.Containers[0].Name = ""
			d.Spec.RevisionHistoryLimit = ptrTo[int32](-1)
		}, []string{"spec.replicas: Invalid value", "spec.template.spec.containers[0].name: Required value", "spec.revisionHistoryLimit: Invalid value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDeployment()
			d.Default()
			c.mutate(d)
			assert.Equal(t, c.want, errorSummary(d.Validate()))
		})
	}
}

func TestDeploymentValidateMessages(t *testing.T) {
	d := newDeployment()
	d.Spec.Strategy = DeploymentStrategy{RollingUpdate: &RollingUpdateDeployment{
		MaxUnavailable: ptrTo(FromInt32(0)), MaxSurge: ptrTo(FromInt32(0))}}
	d.Spec.Replicas = ptrTo[int32](-1)
	d.Spec.MinReadySeconds = 700
	err := validateThroughScheme(d)
	require.Error(t, err)
	assert.Equal(t, `Deployment "web" is invalid: [`+
		"spec.replicas: Invalid value: -1: must be greater than or equal to 0, "+
		"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0, "+
		"spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds]", err.Error())
}

func TestDeploymentValidateUpdate(t *testing.T) {
	old := newDeployment()
	old.Default()

	n := old.DeepCopy()
	n.Spec.Replicas = ptrTo[int32](10)
	n.Spec.Paused = true
	n.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	assert.Empty(t, n.ValidateUpdate(old))

	n.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"app": "api"}}
	errs := n.ValidateUpdate(old)
	require.Len(t, errs, 1)
	assert.Equal(t, `spec.selector: Invalid value: {"matchLabels":{"app":"api"}}: field is immutable`, errs[0].Error())
}

func TestGetDeploymentCondition(t *testing.T) {
	s := &DeploymentStatus{Conditions: []DeploymentCondition{
		{Type: DeploymentAvailable, Status: ConditionTrue},
		{Type: DeploymentProgressing, Status: ConditionFalse, Reason: "ProgressDeadlineExceeded"},
	}}
	c := GetDeploymentCondition(s, DeploymentProgressing)
	require.NotNil(t, c)
	assert.Equal(t, "ProgressDeadlineExceeded", c.Reason)
	c.Status = ConditionTrue
	assert.Equal(t, ConditionTrue, s.Conditions[1].Status, "points into the status")
	assert.Nil(t, GetDeploymentCondition(s, DeploymentReplicaFailure))
}

func TestDeploymentManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {deployment.kubernetes.io/revision: "3"}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - {containerPort: 80, name: http}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 10%}
  minReadySeconds: 5
  revisionHistoryLimit: 4
  paused: true
  progressDeadlineSeconds: 120
status:
  observedGeneration: 7
  replicas: 3
  updatedReplicas: 2
  readyReplicas: 3
  availableReplicas: 3
  unavailableReplicas: 1
  collisionCount: 1
  conditions:
  - type: Progressing
    status: "True"
    lastUpdateTime: "2024-05-01T10:00:00Z"
    lastTransitionTime: "2024-05-01T09:00:00Z"
    reason: NewReplicaSetAvailable
    message: ReplicaSet "web-7c9f" has successfully progressed.
`)
	d := obj.(*Deployment)
	assert.Equal(t, FromInt32(1), *d.Spec.Strategy.RollingUpdate.MaxSurge)
	assert.Equal(t, FromString("10%"), *d.Spec.Strategy.RollingUpdate.MaxUnavailable)
	assert.Equal(t, int32(1), *d.Status.CollisionCount)
	require.NoError(t, validateThroughScheme(d))
	jsonRoundTrip(t, d)

	_, err := NewScheme().DecodeBytes([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicaz: 3}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "replicaz")
}

func TestDeploymentStatus(t *testing.T) {
	d := newDeployment()
	d.Status = DeploymentStatus{Replicas: 3, AvailableReplicas: 3, ObservedGeneration: 7}
	d.PrepareForCreate()
	assert.Equal(t, DeploymentStatus{}, d.Status, "a new Deployment has no status, whatever was sent")

	d.Status = DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, UnavailableReplicas: 1}
	assert.Empty(t, d.ValidateStatusUpdate(newDeployment()))
	d.Status = DeploymentStatus{Replicas: -5, ObservedGeneration: -3, ReadyReplicas: 1, AvailableReplicas: 2, CollisionCount: ptrTo[int32](-1)}
	assertFieldErrors(t, []string{
		"status.observedGeneration: Invalid value: -3: must be greater than or equal to 0",
		"status.replicas: Invalid value: -5: must be greater than or equal to 0",
		"status.collisionCount: Invalid value: -1: must be greater than or equal to 0",
		"status.updatedReplicas: Invalid value: 0: cannot be greater than status.replicas",
		"status.readyReplicas: Invalid value: 1: cannot be greater than status.replicas",
		"status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas",
		"status.availableReplicas: Invalid value: 2: cannot be greater than status.readyReplicas",
	}, d.ValidateStatusUpdate(newDeployment()))
}
