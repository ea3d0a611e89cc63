package quota

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/podkit/podkit/objects"
)

func list(kv ...string) objects.ResourceList {
	l := objects.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[objects.ResourceName(kv[i])] = objects.MustParseQuantity(kv[i+1])
	}
	return l
}

func assertList(t *testing.T, want, got objects.ResourceList, msg string) {
	t.Helper()
	assert.True(t, Equal(want, got), "%s: want %v, got %v", msg, want, got)
}

func TestUsage(t *testing.T) {
	e := New(objects.NewScheme())
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	always := objects.ContainerRestartPolicyAlways
	pod := &objects.Pod{Spec: objects.PodSpec{
		InitContainers: []objects.Container{
			{Name: "setup", Resources: objects.ResourceRequirements{Requests: list("cpu", "2")}},
			{Name: "proxy", RestartPolicy: &always, Resources: objects.ResourceRequirements{Requests: list("cpu", "100m", "memory", "64Mi"), Limits: list("memory", "64Mi")}},
		},
		Containers: []objects.Container{{Name: "app", Resources: objects.ResourceRequirements{
			Requests: list("cpu", "500m", "memory", "128Mi", "example.com/gpu", "1", "hugepages-2Mi", "4Mi"),
			Limits:   list("cpu", "1", "memory", "256Mi", "example.com/gpu", "1", "hugepages-2Mi", "4Mi")}}},
	}}
	assertList(t, list("count/pods", "1", "pods", "1", "cpu", "2", "requests.cpu", "2", "memory", "192Mi", "requests.memory", "192Mi",
		"limits.cpu", "1", "limits.memory", "320Mi", "requests.example.com/gpu", "1", "hugepages-2Mi", "4Mi", "requests.hugepages-2Mi", "4Mi"),
		e.Usage("Pod", pod, now), "the init container's cpu beats the sum; the sidecar adds")

	done := pod.DeepCopy()
	done.Status.Phase = objects.PodSucceeded
	assertList(t, list("count/pods", "1"), e.Usage("Pod", done, now), "a finished pod counts in count/pods only")
	going := pod.DeepCopy()
	at, grace := objects.NewTime(now.Add(-20*time.Second)), int64(30)
	going.DeletionTimestamp, going.DeletionGracePeriodSeconds = &at, &grace
	assert.Contains(t, e.Usage("Pod", going, now), objects.ResourcePods, "counts until twice its grace period has passed")
	assertList(t, list("count/pods", "1"), e.Usage("Pod", going, now.Add(time.Minute)), "past it, no more")

	svc := &objects.Service{Spec: objects.ServiceSpec{Type: objects.ServiceTypeLoadBalancer,
		Ports: []objects.ServicePort{{Port: 80}, {Port: 443}}}}
	assertList(t, list("count/services", "1", "services", "1", "services.loadbalancers", "1", "services.nodeports", "2"),
		e.Usage("Service", svc, now), "a LoadBalancer has a node port per port")

	gold := "gold"
	claim := &objects.PersistentVolumeClaim{Spec: objects.PersistentVolumeClaimSpec{StorageClassName: &gold,
		Resources: objects.VolumeResourceRequirements{Requests: list("storage", "1500m")}}}
	assertList(t, list("count/persistentvolumeclaims", "1", "persistentvolumeclaims", "1", "requests.storage", "2",
		"gold.storageclass.storage.k8s.io/persistentvolumeclaims", "1", "gold.storageclass.storage.k8s.io/requests.storage", "2"),
		e.Usage("PersistentVolumeClaim", claim, now), "storage rounded up to whole bytes, and by class")

	assertList(t, list("count/configmaps", "1", "configmaps", "1"), e.Usage("ConfigMap", &objects.ConfigMap{}, now), "legacy alias")
	assertList(t, list("count/replicationcontrollers", "1", "replicationcontrollers", "1"),
		e.Usage("ReplicationController", &objects.ReplicationController{}, now), "legacy alias")
	assertList(t, list("count/deployments.apps", "1"), e.Usage("Deployment", &objects.Deployment{}, now), "any kind's count")
	assert.Equal(t, []string{"Deployment", "Pod"}, e.Kinds([]objects.ResourceName{"count/deployments.apps", "requests.cpu"}))
	assert.Empty(t, e.Kinds([]objects.ResourceName{"count/nodes"}), "cluster-scoped kinds are not counted")
}

func TestMatchesScopes(t *testing.T) {
	deadline := int64(10)
	bestEffort := &objects.Pod{}
	burstable := &objects.Pod{Spec: objects.PodSpec{ActiveDeadlineSeconds: &deadline, PriorityClassName: "high",
		Containers: []objects.Container{{Resources: objects.ResourceRequirements{Requests: list("cpu", "1")}}}}}
	cross := &objects.Pod{Spec: objects.PodSpec{Affinity: &objects.Affinity{PodAntiAffinity: &objects.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []objects.WeightedPodAffinityTerm{{Weight: 1,
			PodAffinityTerm: objects.PodAffinityTerm{TopologyKey: "zone", Namespaces: []string{"other"}}}}}}}}
	q := func(scopes []objects.ResourceQuotaScope, reqs ...objects.ScopedResourceSelectorRequirement) *objects.ResourceQuota {
		r := &objects.ResourceQuota{Spec: objects.ResourceQuotaSpec{Hard: list("pods", "1"), Scopes: scopes}}
		if len(reqs) > 0 {
			r.Spec.ScopeSelector = &objects.ScopeSelector{MatchExpressions: reqs}
		}
		return r
	}
	in := func(op objects.ScopeSelectorOperator, values ...string) objects.ScopedResourceSelectorRequirement {
		return objects.ScopedResourceSelectorRequirement{ScopeName: objects.ResourceQuotaScopePriorityClass, Operator: op, Values: values}
	}
	cases := []struct {
		name   string
		q      *objects.ResourceQuota
		pod    *objects.Pod
		kind   string
		obj    objects.Object
		expect bool
	}{
		{"no scope", q(nil), bestEffort, "", nil, true},
		{"BestEffort", q([]objects.ResourceQuotaScope{"BestEffort"}), bestEffort, "", nil, true},
		{"NotBestEffort", q([]objects.ResourceQuotaScope{"NotBestEffort"}), bestEffort, "", nil, false},
		{"Terminating", q([]objects.ResourceQuotaScope{"Terminating", "NotBestEffort"}), burstable, "", nil, true},
		{"NotTerminating", q([]objects.ResourceQuotaScope{"NotTerminating"}), burstable, "", nil, false},
		{"PriorityClass In", q(nil, in(objects.ScopeSelectorOpIn, "high", "top")), burstable, "", nil, true},
		{"PriorityClass NotIn", q(nil, in(objects.ScopeSelectorOpNotIn, "high")), burstable, "", nil, false},
		{"PriorityClass DoesNotExist", q(nil, in(objects.ScopeSelectorOpDoesNotExist)), bestEffort, "", nil, true},
		{"PriorityClass Exists", q(nil, in(objects.ScopeSelectorOpExists)), bestEffort, "", nil, false},
		{"CrossNamespacePodAffinity", q([]objects.ResourceQuotaScope{"CrossNamespacePodAffinity"}), cross, "", nil, true},
		{"a scoped quota counts no Service", q([]objects.ResourceQuotaScope{"NotTerminating"}), nil, "Service", &objects.Service{}, false},
	}
	for _, c := range cases {
		kind, obj := c.kind, c.obj
		if c.pod != nil {
			kind, obj = "Pod", c.pod
		}
		assert.Equal(t, c.expect, MatchesScopes(c.q, kind, obj), c.name)
	}
}

func TestChangeCounts(t *testing.T) {
	now := time.Now
	running := &objects.Pod{Status: objects.PodStatus{Phase: objects.PodRunning}}
	ready := running.DeepCopy()
	ready.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionTrue}}
	failed := running.DeepCopy()
	failed.Status.Phase = objects.PodFailed
	assert.False(t, ChangeCounts("Pod", nil, running, now), "a creation was charged by admission")
	assert.False(t, ChangeCounts("Pod", running, ready, now), "a status change counts the same")
	assert.True(t, ChangeCounts("Pod", running, failed, now), "a finished pod frees its share")
	assert.True(t, ChangeCounts("Pod", running, nil, now), "so does a deleted one")
	np := &objects.Service{Spec: objects.ServiceSpec{Type: objects.ServiceTypeNodePort}}
	assert.True(t, ChangeCounts("Service", np, &objects.Service{}, now), "a Service no longer a NodePort")
	assert.False(t, ChangeCounts("ConfigMap", &objects.ConfigMap{}, &objects.ConfigMap{Data: map[string]string{"a": "b"}}, now))
}
