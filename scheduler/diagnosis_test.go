package scheduler

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Kubernetes' FitError: reasons with their node counts, sorted as strings,
// then what preemption said.
func TestFitMessage(t *testing.T) {
	cpu := NewStatus(Unschedulable, "Insufficient cpu")
	cpuMem := NewStatus(Unschedulable, "Insufficient cpu", "Insufficient memory")
	taint := untoleratedTaint("dedicated", "gpu")
	for _, tc := range []struct {
		name string
		d    diagnosis
		want string
	}{
		{"one reason", diagnosis{numNodes: 3, statuses: []*Status{cpu, cpu, cpu}},
			"0/3 nodes are available: 3 Insufficient cpu."},
		{"sorted as strings, counts first", diagnosis{numNodes: 3, statuses: []*Status{cpu, cpu, taint}},
			"0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."},
		{"a node with two reasons counts in both", diagnosis{numNodes: 2, statuses: []*Status{cpuMem, cpu}},
			"0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu."},
		{"ten sorts before two, as Kubernetes sorts", diagnosis{numNodes: 12, statuses: append(repeat(cpu, 10), taint, taint)},
			"0/12 nodes are available: 10 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}."},
		{"a prefilter rejection is the whole reason", diagnosis{numNodes: 2, preFilter: NewStatus(UnschedulableAndUnresolvable, `persistentvolumeclaim "data" not found`),
			statuses: []*Status{cpu, cpu}},
			`0/2 nodes are available: persistentvolumeclaim "data" not found.`},
		{"with preemption", diagnosis{numNodes: 3, statuses: []*Status{cpu, cpu, taint},
			postFilter: "0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."},
			"0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."},
		{"no nodes", diagnosis{}, "no nodes available to schedule pods"},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, tc.d.message()) })
	}
}

func repeat(s *Status, n int) []*Status {
	out := make([]*Status, n)
	for i := range out {
		out[i] = s
	}
	return out
}
