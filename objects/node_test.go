package objects

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNodeDefault(t *testing.T) {
	n := &Node{ObjectMeta: ObjectMeta{Name: "n1"},
		Spec:   NodeSpec{PodCIDR: "10.244.1.0/24"},
		Status: NodeStatus{Capacity: ResourceList{ResourceCPU: MustParseQuantity("4"), ResourcePods: MustParseQuantity("110")}}}
	n.Default()
	assert.Equal(t, []string{"10.244.1.0/24"}, n.Spec.PodCIDRs)
	assert.Equal(t, "4", ptrOf(n.Status.Allocatable[ResourceCPU]).String())
	assert.Equal(t, "110", ptrOf(n.Status.Allocatable[ResourcePods]).String())

	// Allocatable given explicitly is kept.
	n = &Node{Status: NodeStatus{Capacity: ResourceList{ResourceCPU: MustParseQuantity("4")},
		Allocatable: ResourceList{ResourceCPU: MustParseQuantity("3500m")}}}
	n.Default()
	assert.Equal(t, "3500m", ptrOf(n.Status.Allocatable[ResourceCPU]).String())
}

func TestValidateNode(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(n *Node)
		want   []string
	}{
		{"valid", func(*Node) {}, nil},
		{"taints", func(n *Node) {
			n.Spec.Taints = []Taint{
				{Key: "dedicated", Value: "gpu", Effect: TaintEffectNoSchedule},
				{Key: "dedicated", Value: "other", Effect: TaintEffectNoSchedule},
				{Key: "x", Effect: "Sometimes"},
				{Key: "", Effect: TaintEffectNoExecute},
				{Key: "y"},
			}
		}, []string{
			`spec.taints[1]: Duplicate value: "dedicated=other:NoSchedule": taints must be unique by key and effect pair`,
			`spec.taints[2].effect: Unsupported value: "Sometimes": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"`,
			`spec.taints[3].key: Invalid value: "": name part must be non-empty`,
			`spec.taints[3].key: Invalid value: "": name part must consist of*`,
			"spec.taints[4].effect: Required value",
		}},
		{"pod CIDRs", func(n *Node) {
			n.Spec.PodCIDR = "10.0.0.0/24"
			n.Spec.PodCIDRs = []string{"10.0.0.0/24", "not-a-cidr"}
		}, []string{`spec.podCIDRs[1]: Invalid value: "not-a-cidr": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`}},
		{"negative capacity", func(n *Node) {
			n.Status.Capacity = ResourceList{ResourceCPU: MustParseQuantity("-1")}
		}, []string{`status.capacity[cpu]: Invalid value: "-1": must be greater than or equal to 0`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{ObjectMeta: ObjectMeta{Name: "n1"}}
			tc.mutate(n)
			assertFieldErrors(t, tc.want, n.Validate())
		})
	}
}

func TestNodeValidateUpdate(t *testing.T) {
	old := &Node{ObjectMeta: ObjectMeta{Name: "n1"}}
	n := old.DeepCopy()
	n.Spec.PodCIDRs = []string{"10.244.0.0/24"}
	n.Spec.Unschedulable = true
	assert.Empty(t, n.ValidateUpdate(old), "podCIDRs may be set once")

	n2 := n.DeepCopy()
	n2.Spec.PodCIDRs = []string{"10.244.9.0/24"}
	assertFieldErrors(t, []string{`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`}, n2.ValidateUpdate(n))

	s := NewScheme()
	err := s.ValidateUpdate(n2, n)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Node "n1" is invalid`)
}

func TestNodeHelpers(t *testing.T) {
	n := &Node{}
	assert.False(t, IsNodeReady(n))
	n.Status.Conditions = []NodeCondition{{Type: NodeMemoryPressure, Status: ConditionFalse}, {Type: NodeReady, Status: ConditionUnknown}}
	assert.False(t, IsNodeReady(n))
	GetNodeCondition(&n.Status, NodeReady).Status = ConditionTrue
	assert.True(t, IsNodeReady(n))

	taint := Taint{Key: "dedicated", Value: "gpu", Effect: TaintEffectNoSchedule}
	assert.Equal(t, "dedicated=gpu:NoSchedule", taint.String())
	assert.Equal(t, "k:NoExecute", (&Taint{Key: "k", Effect: TaintEffectNoExecute}).String())
}

func TestToleratesTaint(t *testing.T) {
	taint := &Taint{Key: "dedicated", Value: "gpu", Effect: TaintEffectNoSchedule}
	cases := []struct {
		name string
		tol  Toleration
		want bool
	}{
		{"equal value", Toleration{Key: "dedicated", Operator: TolerationOpEqual, Value: "gpu", Effect: TaintEffectNoSchedule}, true},
		{"empty operator means Equal", Toleration{Key: "dedicated", Value: "gpu"}, true},
		{"other value", Toleration{Key: "dedicated", Value: "cpu"}, false},
		{"exists", Toleration{Key: "dedicated", Operator: TolerationOpExists}, true},
		{"exists other key", Toleration{Key: "other", Operator: TolerationOpExists}, false},
		{"empty key with Exists tolerates everything", Toleration{Operator: TolerationOpExists}, true},
		{"other effect", Toleration{Key: "dedicated", Operator: TolerationOpExists, Effect: TaintEffectNoExecute}, false},
		{"same effect", Toleration{Key: "dedicated", Operator: TolerationOpExists, Effect: TaintEffectNoSchedule}, true},
		{"unknown operator", Toleration{Key: "dedicated", Operator: "In", Value: "gpu"}, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.tol.ToleratesTaint(taint), tc.name)
	}
	assert.True(t, TolerationsTolerateTaint([]Toleration{{Key: "x"}, {Operator: TolerationOpExists}}, taint))
	assert.False(t, TolerationsTolerateTaint(nil, taint))
}

func TestNodeJSON(t *testing.T) {
	const manifest = `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1"}},
"spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"],"unschedulable":true,
 "taints":[{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule","timeAdded":"2024-05-01T10:00:00Z"}]},
"status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},"allocatable":{"cpu":"3800m","memory":"7Gi","pods":"110"},
 "conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2024-05-01T10:00:00Z","lastTransitionTime":"2024-05-01T09:00:00Z","reason":"KubeletReady","message":"ready"}],
 "addresses":[{"type":"InternalIP","address":"10.0.0.5"},{"type":"Hostname","address":"n1"}],
 "nodeInfo":{"machineID":"m","systemUUID":"s","bootID":"b","kernelVersion":"6.1","osImage":"Debian","containerRuntimeVersion":"fake://1.0","kubeletVersion":"podkit","kubeProxyVersion":"","operatingSystem":"linux","architecture":"amd64"}}}`
	objs, err := NewScheme().DecodeBytes([]byte(manifest))
	require.NoError(t, err)
	n := objs[0].(*Node)
	assert.True(t, IsNodeReady(n))
	assert.Equal(t, "fake://1.0", n.Status.NodeInfo.ContainerRuntimeVersion)
	got, err := json.Marshal(n)
	require.NoError(t, err)
	var a, b map[string]any
	require.NoError(t, json.Unmarshal([]byte(manifest), &a))
	require.NoError(t, json.Unmarshal(got, &b))
	a["metadata"].(map[string]any)["creationTimestamp"] = nil
	assert.Equal(t, a, b)
}
