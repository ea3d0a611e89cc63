package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newDaemonSet() *DaemonSet {
	return &DaemonSet{
		ObjectMeta: ObjectMeta{Name: "agent", Namespace: "kube-system"},
		Spec:       DaemonSetSpec{Selector: webSelector(), Template: testTemplate(webLabels())},
	}
}

func TestDaemonSetDefault(t *testing.T) {
	d := newDaemonSet()
	d.Default()
	assert.Equal(t, DaemonSetUpdateStrategy{Type: RollingUpdateDaemonSetStrategyType, RollingUpdate: &RollingUpdateDaemonSet{
		MaxUnavailable: ptrTo(FromInt32(1)), MaxSurge: ptrTo(FromInt32(0))}}, d.Spec.UpdateStrategy)
	assert.Equal(t, int32(10), *d.Spec.RevisionHistoryLimit)
	assert.Equal(t, RestartPolicyAlways, d.Spec.Template.Spec.RestartPolicy)

	d = newDaemonSet()
	d.Spec.UpdateStrategy = DaemonSetUpdateStrategy{Type: OnDeleteDaemonSetStrategyType}
	d.Default()
	assert.Nil(t, d.Spec.UpdateStrategy.RollingUpdate)

	d = newDaemonSet()
	d.Spec.UpdateStrategy.RollingUpdate = &RollingUpdateDaemonSet{MaxSurge: ptrTo(FromString("10%"))}
	d.Default()
	assert.Equal(t, FromString("10%"), *d.Spec.UpdateStrategy.RollingUpdate.MaxSurge)
	assert.Equal(t, FromInt32(1), *d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable)
}

func TestDaemonSetValidate(t *testing.T) {
	ru := func(maxUnavailable, maxSurge IntOrString) DaemonSetUpdateStrategy {
		return DaemonSetUpdateStrategy{Type: RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &RollingUpdateDaemonSet{MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge}}
	}
	cases := []struct {
		name   string
		mutate func(*DaemonSet)
		want   []string
	}{
		{"valid", func(*DaemonSet) {}, nil},
		{"valid on delete", func(d *DaemonSet) {
			d.Spec.UpdateStrategy = DaemonSetUpdateStrategy{Type: OnDeleteDaemonSetStrategyType}
		}, nil},
		{"valid surge", func(d *DaemonSet) { d.Spec.UpdateStrategy = ru(FromInt32(0), FromString("20%")) }, nil},
		{"both set", func(d *DaemonSet) { d.Spec.UpdateStrategy = ru(FromInt32(1), FromInt32(1)) },
			[]string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value"}},
		{"both zero", func(d *DaemonSet) { d.Spec.UpdateStrategy = ru(FromString("0%"), FromInt32(0)) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value"}},
		{"surge over 100%", func(d *DaemonSet) { d.Spec.UpdateStrategy = ru(FromInt32(0), FromString("101%")) },
			[]string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value"}},
		{"rolling without params", func(d *DaemonSet) { d.Spec.UpdateStrategy.RollingUpdate = nil },
			[]string{"spec.updateStrategy.rollingUpdate: Required value"}},
		{"unknown strategy", func(d *DaemonSet) { d.Spec.UpdateStrategy.Type = "Surge" },
			[]string{"spec.updateStrategy.type: Unsupported value"}},
		{"no selector", func(d *DaemonSet) { d.Spec.Selector = nil }, []string{"spec.selector: Required value"}},
		{"selector mismatch", func(d *DaemonSet) { d.Spec.Template.Labels = nil }, []string{"spec.template.metadata.labels: Invalid value"}},
		{"restartPolicy Never", func(d *DaemonSet) { d.Spec.Template.Spec.RestartPolicy = RestartPolicyNever },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"negative history", func(d *DaemonSet) { d.Spec.RevisionHistoryLimit = ptrTo[int32](-3) },
			[]string{"spec.revisionHistoryLimit: Invalid value"}},
		{"negative minReady", func(d *DaemonSet) { d.Spec.MinReadySeconds = -3 }, []string{"spec.minReadySeconds: Invalid value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDaemonSet()
			d.Default()
			c.mutate(d)
			assert.Equal(t, c.want, errorSummary(d.Validate()))
		})
	}
}

func TestDaemonSetValidateMessages(t *testing.T) {
	d := newDaemonSet()
	d.Default()
	d.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptrTo(FromString("50%"))
	errs := d.Validate()
	require.Len(t, errs, 1)
	assert.Equal(t, `spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "50%": may not be set when maxUnavailable is non-zero`, errs[0].Error())

	d.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptrTo(FromInt32(0))
	d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromInt32(0))
	errs = d.Validate()
	require.Len(t, errs, 1)
	assert.Equal(t, `spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0`, errs[0].Error())
}

func TestDaemonSetValidateUpdate(t *testing.T) {
	old := newDaemonSet()
	old.Default()
	n := old.DeepCopy()
	n.Spec.Template.Spec.Containers[0].Image = "agent:2"
	n.Spec.UpdateStrategy = DaemonSetUpdateStrategy{Type: OnDeleteDaemonSetStrategyType}
	assert.Empty(t, n.ValidateUpdate(old))
	n.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"app": "agent"}}
	assert.Equal(t, []string{"spec.selector: Invalid value"}, errorSummary(n.ValidateUpdate(old)))
}

func TestDaemonSetManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
  labels: {k8s-app: fluentd-logging}
spec:
  selector:
    matchLabels: {name: fluentd-elasticsearch}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 0, maxSurge: 25%}
  minReadySeconds: 3
  revisionHistoryLimit: 3
  template:
    metadata:
      labels: {name: fluentd-elasticsearch}
    spec:
      tolerations:
      - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
      containers:
      - name: fluentd-elasticsearch
        image: quay.io/fluentd_elasticsearch/fluentd:v2.5.2
        resources:
          limits: {memory: 200Mi}
          requests: {cpu: 100m, memory: 200Mi}
status:
  currentNumberScheduled: 3
  numberMisscheduled: 1
  desiredNumberScheduled: 3
  numberReady: 2
  observedGeneration: 2
  updatedNumberScheduled: 1
  numberAvailable: 2
  numberUnavailable: 1
  collisionCount: 2
  conditions:
  - {type: Progressing, status: "False", reason: Paused, message: waiting}
`)
	d := obj.(*DaemonSet)
	assert.Equal(t, FromString("25%"), *d.Spec.UpdateStrategy.RollingUpdate.MaxSurge)
	assert.Equal(t, int32(1), d.Status.NumberMisscheduled)
	require.NoError(t, validateThroughScheme(d))
	jsonRoundTrip(t, d)
}

func TestDaemonSetStatus(t *testing.T) {
	d := newDaemonSet()
	d.Status = DaemonSetStatus{DesiredNumberScheduled: 3}
	d.PrepareForCreate()
	assert.Equal(t, DaemonSetStatus{}, d.Status, "a new DaemonSet has no status, whatever was sent")

	d.Status = DaemonSetStatus{DesiredNumberScheduled: 3, NumberReady: -1, NumberUnavailable: -2}
	assertFieldErrors(t, []string{
		"status.numberReady: Invalid value: -1: must be greater than or equal to 0",
		"status.numberUnavailable: Invalid value: -2: must be greater than or equal to 0",
	}, d.ValidateStatusUpdate(newDaemonSet()))
}
