package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newStatefulSet() *StatefulSet {
	labels := map[string]string{"app": "db"}
	t := testTemplate(labels)
	t.Spec.Containers[0].VolumeMounts = []VolumeMount{{Name: "data", MountPath: "/var/lib/db"}}
	return &StatefulSet{
		ObjectMeta: ObjectMeta{Name: "db", Namespace: "default"},
		Spec: StatefulSetSpec{
			Selector:    &LabelSelector{MatchLabels: labels},
			Template:    t,
			ServiceName: "db",
			VolumeClaimTemplates: []PersistentVolumeClaim{{
				ObjectMeta: ObjectMeta{Name: "data"},
				Spec: PersistentVolumeClaimSpec{
					AccessModes: []PersistentVolumeAccessMode{ReadWriteOnce},
					Resources:   VolumeResourceRequirements{Requests: ResourceList{ResourceStorage: MustParseQuantity("1Gi")}},
				},
			}},
		},
	}
}

func TestStatefulSetDefault(t *testing.T) {
	s := newStatefulSet()
	s.Default()
	sp := s.Spec
	assert.Equal(t, int32(1), *sp.Replicas)
	assert.Equal(t, OrderedReadyPodManagement, sp.PodManagementPolicy)
	assert.Equal(t, StatefulSetUpdateStrategy{Type: RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &RollingUpdateStatefulSetStrategy{Partition: ptrTo[int32](0), MaxUnavailable: ptrTo(FromInt32(1))}}, sp.UpdateStrategy)
	assert.Equal(t, int32(10), *sp.RevisionHistoryLimit)
	assert.Equal(t, &StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  RetainPersistentVolumeClaimRetentionPolicyType}, sp.PersistentVolumeClaimRetentionPolicy)
	assert.Equal(t, RestartPolicyAlways, sp.Template.Spec.RestartPolicy)
	assert.Empty(t, sp.Template.Spec.Volumes, "claim volumes are added by the controller, not by defaulting")

	cases := []struct {
		name string
		in   StatefulSetUpdateStrategy
		want StatefulSetUpdateStrategy
	}{
		{"on delete untouched", StatefulSetUpdateStrategy{Type: OnDeleteStatefulSetStrategyType},
			StatefulSetUpdateStrategy{Type: OnDeleteStatefulSetStrategyType}},
		{"rolling without params stays without", StatefulSetUpdateStrategy{Type: RollingUpdateStatefulSetStrategyType},
			StatefulSetUpdateStrategy{Type: RollingUpdateStatefulSetStrategyType}},
		{"partition defaulted, maxUnavailable kept", StatefulSetUpdateStrategy{Type: RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &RollingUpdateStatefulSetStrategy{MaxUnavailable: ptrTo(FromString("40%"))}},
			StatefulSetUpdateStrategy{Type: RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &RollingUpdateStatefulSetStrategy{Partition: ptrTo[int32](0), MaxUnavailable: ptrTo(FromString("40%"))}}},
		{"partition kept, maxUnavailable defaulted", StatefulSetUpdateStrategy{RollingUpdate: &RollingUpdateStatefulSetStrategy{Partition: ptrTo[int32](2)}},
			StatefulSetUpdateStrategy{Type: RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &RollingUpdateStatefulSetStrategy{Partition: ptrTo[int32](2), MaxUnavailable: ptrTo(FromInt32(1))}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStatefulSet()
			s.Spec.UpdateStrategy = c.in
			s.Spec.PersistentVolumeClaimRetentionPolicy = &StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: DeletePersistentVolumeClaimRetentionPolicyType}
			s.Default()
			assert.Equal(t, c.want, s.Spec.UpdateStrategy)
			assert.Equal(t, RetainPersistentVolumeClaimRetentionPolicyType, s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted)
			assert.Equal(t, DeletePersistentVolumeClaimRetentionPolicyType, s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled)
		})
	}
}

func TestStatefulSetValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*StatefulSet)
		want   []string
	}{
		{"valid", func(*StatefulSet) {}, nil},
		{"valid without serviceName", func(s *StatefulSet) { s.Spec.ServiceName = "" }, nil},
		{"valid parallel on delete", func(s *StatefulSet) {
			s.Spec.PodManagementPolicy = ParallelPodManagement
			s.Spec.UpdateStrategy = StatefulSetUpdateStrategy{Type: OnDeleteStatefulSetStrategyType}
		}, nil},
		{"name must be a DNS label", func(s *StatefulSet) { s.Name = "db.primary" }, []string{"metadata.name: Invalid value"}},
		{"generated name must be a DNS label", func(s *StatefulSet) { s.Name, s.GenerateName = "", "a.b-" },
			[]string{"metadata.generateName: Invalid value"}},
		{"valid generateName", func(s *StatefulSet) { s.Name, s.GenerateName = "", "db-" }, nil},
		{"bad serviceName", func(s *StatefulSet) { s.Spec.ServiceName = "DB" }, []string{"spec.serviceName: Invalid value"}},
		{"policy missing", func(s *StatefulSet) { s.Spec.PodManagementPolicy = "" }, []string{"spec.podManagementPolicy: Required value"}},
		{"policy unknown", func(s *StatefulSet) { s.Spec.PodManagementPolicy = "Random" }, []string{"spec.podManagementPolicy: Invalid value"}},
		{"strategy missing", func(s *StatefulSet) { s.Spec.UpdateStrategy = StatefulSetUpdateStrategy{} }, []string{"spec.updateStrategy: Required value"}},
		{"strategy unknown", func(s *StatefulSet) { s.Spec.UpdateStrategy.Type = "Canary" }, []string{"spec.updateStrategy: Invalid value"}},
		{"on delete with rollingUpdate", func(s *StatefulSet) { s.Spec.UpdateStrategy.Type = OnDeleteStatefulSetStrategyType },
			[]string{"spec.updateStrategy.rollingUpdate: Invalid value"}},
		{"negative partition", func(s *StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptrTo[int32](-1) },
			[]string{"spec.updateStrategy.rollingUpdate.partition: Invalid value"}},
		{"maxUnavailable zero", func(s *StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromString("0%")) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"maxUnavailable over 100%", func(s *StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromString("120%")) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"maxUnavailable negative", func(s *StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromInt32(-1)) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"maxUnavailable not a percentage", func(s *StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromString("two")) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value", "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"maxUnavailable 100%", func(s *StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromString("100%")) }, nil},
		{"maxUnavailable above replicas", func(s *StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromInt32(7)) }, nil},
		{"retention unknown", func(s *StatefulSet) { s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = "Keep" },
			[]string{"spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value"}},
		{"negative replicas", func(s *StatefulSet) { s.Spec.Replicas = ptrTo[int32](-1) }, []string{"spec.replicas: Invalid value"}},
		{"negative ordinal start", func(s *StatefulSet) { s.Spec.Ordinals = &StatefulSetOrdinals{Start: -1} },
			[]string{"spec.ordinals.start: Invalid value"}},
		{"negative history", func(s *StatefulSet) { s.Spec.RevisionHistoryLimit = ptrTo[int32](-1) },
			[]string{"spec.revisionHistoryLimit: Invalid value"}},
		{"no selector", func(s *StatefulSet) { s.Spec.Selector = nil }, []string{"spec.selector: Required value"}},
		{"selector mismatch", func(s *StatefulSet) { s.Spec.Template.Labels = map[string]string{"app": "web"} },
			[]string{"spec.template.metadata.labels: Invalid value"}},
		{"restartPolicy Never", func(s *StatefulSet) { s.Spec.Template.Spec.RestartPolicy = RestartPolicyNever },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"mount of an unknown volume", func(s *StatefulSet) { s.Spec.Template.Spec.Containers[0].VolumeMounts[0].Name = "logs" },
			[]string{"spec.template.spec.containers[0].volumeMounts[0].name: Not found"}},
		{"claim without name", func(s *StatefulSet) { s.Spec.VolumeClaimTemplates[0].Name = "" },
			[]string{"spec.template.spec.containers[0].volumeMounts[0].name: Not found", "spec.volumeClaimTemplates[0].metadata.name: Required value"}},
		{"duplicate claims", func(s *StatefulSet) {
			s.Spec.VolumeClaimTemplates = append(s.Spec.VolumeClaimTemplates, *s.Spec.VolumeClaimTemplates[0].DeepCopy())
		}, []string{"spec.volumeClaimTemplates[1].metadata.name: Duplicate value"}},
		{"claim spec checked", func(s *StatefulSet) { s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = nil },
			[]string{"spec.volumeClaimTemplates[0].spec.accessModes: Required value"}},
		{"claim replaces a template volume of its name", func(s *StatefulSet) {
			s.Spec.Template.Spec.Volumes = []Volume{{Name: "data", VolumeSource: VolumeSource{EmptyDir: &EmptyDirVolumeSource{}}}}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStatefulSet()
			s.Default()
			c.mutate(s)
			assert.Equal(t, c.want, errorSummary(s.Validate()))
		})
	}
}

func TestStatefulSetValidateMessages(t *testing.T) {
	s := newStatefulSet()
	s.Default()
	s.Spec.PodManagementPolicy = "Random"
	s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromInt32(0))
	var got []string
	for _, e := range s.Validate() {
		got = append(got, e.Error())
	}
	assert.Equal(t, []string{
		`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`,
		`spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0`,
	}, got)
}

func TestStatefulSetValidateUpdate(t *testing.T) {
	old := newStatefulSet()
	old.Default()
	const forbidden = "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
	cases := []struct {
		name   string
		mutate func(*StatefulSet)
		want   []string
	}{
		{"unchanged", func(*StatefulSet) {}, nil},
		{"allowed changes", func(s *StatefulSet) {
			s.Spec.Replicas = ptrTo[int32](5)
			s.Spec.Template.Spec.Containers[0].Image = "postgres:17"
			s.Spec.UpdateStrategy.RollingUpdate.Partition = ptrTo[int32](3)
			s.Spec.MinReadySeconds = 10
			s.Spec.Ordinals = &StatefulSetOrdinals{Start: 1}
			s.Spec.RevisionHistoryLimit = ptrTo[int32](2)
			s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = DeletePersistentVolumeClaimRetentionPolicyType
		}, nil},
		{"serviceName", func(s *StatefulSet) { s.Spec.ServiceName = "db-headless" }, []string{forbidden}},
		{"podManagementPolicy", func(s *StatefulSet) { s.Spec.PodManagementPolicy = ParallelPodManagement }, []string{forbidden}},
		{"volumeClaimTemplates", func(s *StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[ResourceStorage] = MustParseQuantity("2Gi")
		}, []string{forbidden}},
		{"selector", func(s *StatefulSet) { s.Spec.Selector.MatchLabels["tier"] = "x" }, []string{forbidden}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := old.DeepCopy()
			c.mutate(s)
			var got []string
			for _, e := range s.ValidateUpdate(old) {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestStatefulSetManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: default
spec:
  serviceName: nginx
  replicas: 3
  minReadySeconds: 10
  podManagementPolicy: Parallel
  revisionHistoryLimit: 5
  ordinals: {start: 1}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {partition: 1, maxUnavailable: 50%}
  selector:
    matchLabels: {app: nginx}
  template:
    metadata:
      labels: {app: nginx}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
        ports:
        - {containerPort: 80, name: web}
        volumeMounts:
        - {name: www, mountPath: /usr/share/nginx/html}
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: my-storage-class
      resources:
        requests: {storage: 1Gi}
status:
  observedGeneration: 2
  replicas: 3
  readyReplicas: 3
  currentReplicas: 2
  updatedReplicas: 1
  currentRevision: web-6d5d7b5c4
  updateRevision: web-7f8b9c6d5
  collisionCount: 0
  availableReplicas: 3
  conditions:
  - {type: Stable, status: "True", lastTransitionTime: "2024-05-01T10:00:00Z"}
`)
	s := obj.(*StatefulSet)
	assert.Equal(t, "nginx", s.Spec.ServiceName)
	assert.Equal(t, int32(1), s.Spec.Ordinals.Start)
	assert.Equal(t, "www", s.Spec.VolumeClaimTemplates[0].Name)
	require.NoError(t, validateThroughScheme(s))
	jsonRoundTrip(t, s)
}

func TestStatefulSetStatus(t *testing.T) {
	s := newStatefulSet()
	s.Status = StatefulSetStatus{Replicas: 2, CurrentRevision: "db-1"}
	s.PrepareForCreate()
	assert.Equal(t, StatefulSetStatus{}, s.Status, "a new StatefulSet has no status, whatever was sent")

	s.Status = StatefulSetStatus{Replicas: 1, CurrentReplicas: 2, AvailableReplicas: -1}
	assertFieldErrors(t, []string{
		"status.availableReplicas: Invalid value: -1: must be greater than or equal to 0",
		"status.currentReplicas: Invalid value: 2: cannot be greater than status.replicas",
	}, s.ValidateStatusUpdate(newStatefulSet()))
}
