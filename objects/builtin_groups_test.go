package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Compile-time checks that each group kind defaults and validates itself.
var (
	_ Defaulter = (*ReplicaSet)(nil)
	_ Defaulter = (*Deployment)(nil)
	_ Defaulter = (*StatefulSet)(nil)
	_ Defaulter = (*DaemonSet)(nil)
	_ Defaulter = (*Job)(nil)
	_ Defaulter = (*CronJob)(nil)
	_ Defaulter = (*IngressClass)(nil)
	_ Defaulter = (*EndpointSlice)(nil)
	_ Defaulter = (*NetworkPolicy)(nil)
	_ Defaulter = (*HorizontalPodAutoscaler)(nil)
	_ Defaulter = (*PriorityClass)(nil)
	_ Defaulter = (*StorageClass)(nil)
	_ Defaulter = (*RoleBinding)(nil)
	_ Defaulter = (*ClusterRoleBinding)(nil)

	_ Validator = (*ReplicaSet)(nil)
	_ Validator = (*Deployment)(nil)
	_ Validator = (*StatefulSet)(nil)
	_ Validator = (*DaemonSet)(nil)
	_ Validator = (*Job)(nil)
	_ Validator = (*CronJob)(nil)
	_ Validator = (*Ingress)(nil)
	_ Validator = (*IngressClass)(nil)
	_ Validator = (*RuntimeClass)(nil)
	_ Validator = (*EndpointSlice)(nil)
	_ Validator = (*NetworkPolicy)(nil)
	_ Validator = (*HorizontalPodAutoscaler)(nil)
	_ Validator = (*Lease)(nil)
	_ Validator = (*ControllerRevision)(nil)
	_ Validator = (*PodDisruptionBudget)(nil)
	_ Validator = (*PriorityClass)(nil)
	_ Validator = (*StorageClass)(nil)
	_ Validator = (*Role)(nil)
	_ Validator = (*ClusterRole)(nil)
	_ Validator = (*RoleBinding)(nil)
	_ Validator = (*ClusterRoleBinding)(nil)

	_ UpdateValidator = (*ReplicaSet)(nil)
	_ UpdateValidator = (*Deployment)(nil)
	_ UpdateValidator = (*StatefulSet)(nil)
	_ UpdateValidator = (*DaemonSet)(nil)
	_ UpdateValidator = (*ControllerRevision)(nil)
	_ UpdateValidator = (*Job)(nil)
	_ UpdateValidator = (*IngressClass)(nil)
	_ UpdateValidator = (*RuntimeClass)(nil)
	_ UpdateValidator = (*EndpointSlice)(nil)
	_ UpdateValidator = (*PriorityClass)(nil)
	_ UpdateValidator = (*StorageClass)(nil)
	_ UpdateValidator = (*RoleBinding)(nil)
	_ UpdateValidator = (*ClusterRoleBinding)(nil)
)

func TestGroupKindsRegistered(t *testing.T) {
	s := NewScheme()
	want := []struct {
		apiVersion, kind string
		namespaced       bool
		status           bool
	}{
		{"apps/v1", "ReplicaSet", true, true},
		{"apps/v1", "Deployment", true, true},
		{"apps/v1", "StatefulSet", true, true},
		{"apps/v1", "DaemonSet", true, true},
		{"apps/v1", "ControllerRevision", true, false},
		{"batch/v1", "Job", true, true},
		{"batch/v1", "CronJob", true, true},
		{"discovery.k8s.io/v1", "EndpointSlice", true, false},
		{"networking.k8s.io/v1", "Ingress", true, true},
		{"networking.k8s.io/v1", "IngressClass", false, false},
		{"networking.k8s.io/v1", "NetworkPolicy", true, false},
		{"autoscaling/v2", "HorizontalPodAutoscaler", true, true},
		{"coordination.k8s.io/v1", "Lease", true, false},
		{"node.k8s.io/v1", "RuntimeClass", false, false},
		{"policy/v1", "PodDisruptionBudget", true, true},
		{"rbac.authorization.k8s.io/v1", "Role", true, false},
		{"rbac.authorization.k8s.io/v1", "ClusterRole", false, false},
		{"rbac.authorization.k8s.io/v1", "RoleBinding", true, false},
		{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", false, false},
		{"scheduling.k8s.io/v1", "PriorityClass", false, false},
		{"storage.k8s.io/v1", "StorageClass", false, false},
	}
	for _, w := range want {
		k := s.LookupGVK(w.apiVersion, w.kind)
		require.NotNil(t, k, w.kind)
		assert.Equal(t, w.namespaced, k.Namespaced, w.kind)
		assert.Equal(t, w.status, k.HasStatus(), w.kind)
		obj := k.New()
		kk, err := s.KindOf(obj)
		require.NoError(t, err)
		assert.Equal(t, w.kind, kk.Kind)
		assert.IsType(t, obj, obj.DeepCopyObject())
	}
}

func TestGroupKindsDeepCopy(t *testing.T) {
	d := newDeployment()
	d.Default()
	c := d.DeepCopyObject().(*Deployment)
	c.Spec.Selector.MatchLabels["app"] = "changed"
	*c.Spec.Strategy.RollingUpdate.MaxSurge = FromInt32(9)
	c.Spec.Template.Spec.Containers[0].Image = "changed"
	assert.Equal(t, "web", d.Spec.Selector.MatchLabels["app"])
	assert.Equal(t, FromString("25%"), *d.Spec.Strategy.RollingUpdate.MaxSurge)
	assert.Equal(t, "nginx:1.27", d.Spec.Template.Spec.Containers[0].Image)
}

// A set of manifests for the group kinds, written as for a real cluster,
// decodes, defaults and validates in one stream.
func TestGroupKindsManifestStream(t *testing.T) {
	const stream = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres:17
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "agent:1"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: "busybox:1.36", command: [echo, hi]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: default}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: nightly, image: "busybox:1.36"}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: default}
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
`
	s := NewScheme()
	objs, err := s.DecodeBytes([]byte(stream))
	require.NoError(t, err)
	require.Len(t, objs, 7)
	for _, o := range objs {
		s.Default(o)
		assert.NoError(t, s.Validate(o), "%T", o)
	}
}
