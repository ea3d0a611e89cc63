package scheduler

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func withClaim(p *objects.Pod, claim string) *objects.Pod {
	p.Spec.Volumes = append(p.Spec.Volumes, objects.Volume{Name: claim, VolumeSource: objects.VolumeSource{
		PersistentVolumeClaim: &objects.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	return p
}

func claim(name, class, volume string) *objects.PersistentVolumeClaim {
	c := &objects.PersistentVolumeClaim{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.PersistentVolumeClaimSpec{
			AccessModes: []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce},
			Resources:   objects.VolumeResourceRequirements{Requests: objects.ResourceList{objects.ResourceStorage: objects.MustParseQuantity("1Gi")}},
			VolumeName:  volume,
		}}
	if class != "" {
		c.Spec.StorageClassName = &class
	}
	c.Default()
	return c
}

// localPV is a local volume reachable from the named node only.
func localPV(name, class, node string) *objects.PersistentVolume {
	v := &objects.PersistentVolume{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.PersistentVolumeSpec{
		Capacity:               objects.ResourceList{objects.ResourceStorage: objects.MustParseQuantity("10Gi")},
		PersistentVolumeSource: objects.PersistentVolumeSource{Local: &objects.LocalVolumeSource{Path: "/mnt/disk"}},
		AccessModes:            []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce},
		StorageClassName:       class,
		NodeAffinity: &objects.VolumeNodeAffinity{Required: &objects.NodeSelector{NodeSelectorTerms: []objects.NodeSelectorTerm{
			term(expr(LabelHostname, objects.NodeSelectorOpIn, node))}}},
	}}
	v.Default()
	v.Status.Phase = objects.VolumeAvailable
	return v
}

func storageClass(name, provisioner string, mode objects.VolumeBindingMode) *objects.StorageClass {
	return &objects.StorageClass{ObjectMeta: objects.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &mode}
}

// Kubernetes' volume_binding_test.go and volume binding documentation for
// local volumes.
func TestVolumeBinding(t *testing.T) {
	two := []*objects.Node{node("node-a"), node("node-b")}
	local := storageClass("local", noProvisioner, objects.VolumeBindingWaitForFirstConsumer)
	zonal := storageClass("zonal", "example.com/csi", objects.VolumeBindingWaitForFirstConsumer)
	zonal.AllowedTopologies = []objects.TopologySelectorTerm{
		{}, // an empty term matches nothing
		{MatchLabelExpressions: []objects.TopologySelectorLabelRequirement{{Key: LabelZone, Values: []string{"a", "x"}}}},
	}
	cases := []pluginCase{
		{name: "pod has no volumes", pod: pod("p"), nodes: two, wantFilter: fits("node-a", "node-b")},
		{name: "claim not found", pod: withClaim(pod("p"), "data"), nodes: two, wantCode: UnschedulableAndUnresolvable,
			wantFilter: map[string]string{"node-a": `persistentvolumeclaim "data" not found`, "node-b": `persistentvolumeclaim "data" not found`}},
		{name: "bound claim, volume reachable from node-a only (local volume)", pod: withClaim(pod("p"), "data"), nodes: two,
			volumes:    []objects.Object{claim("data", "local", "pv-a"), localPV("pv-a", "local", "node-a"), local},
			wantFilter: map[string]string{"node-a": "", "node-b": "node(s) had volume node affinity conflict"}, wantCode: UnschedulableAndUnresolvable},
		{name: "bound claim, volume does not exist", pod: withClaim(pod("p"), "data"), nodes: two,
			volumes:    []objects.Object{claim("data", "local", "gone")},
			wantFilter: map[string]string{"node-a": reasonPVNotExist, "node-b": reasonPVNotExist}},
		{name: "unbound immediate claim", pod: withClaim(pod("p"), "data"), nodes: two,
			volumes:    []objects.Object{claim("data", "fast", ""), storageClass("fast", "example.com/csi", objects.VolumeBindingImmediate)},
			wantFilter: map[string]string{"node-a": reasonUnboundImmediate, "node-b": reasonUnboundImmediate}},
		{name: "unbound WaitForFirstConsumer claim: only the node with an available local volume", pod: withClaim(pod("p"), "data"), nodes: two,
			volumes:    []objects.Object{claim("data", "local", ""), localPV("pv-b", "local", "node-b"), local},
			wantFilter: map[string]string{"node-a": reasonVolumeBindConflict, "node-b": ""}},
		{name: "unbound WaitForFirstConsumer claim: a volume too small does not count", pod: withClaim(pod("p"), "data"), nodes: two,
			volumes: []objects.Object{func() *objects.PersistentVolumeClaim {
				c := claim("data", "local", "")
				c.Spec.Resources.Requests[objects.ResourceStorage] = objects.MustParseQuantity("100Gi")
				return c
			}(), localPV("pv-b", "local", "node-b"), local},
			wantFilter: map[string]string{"node-a": reasonVolumeBindConflict, "node-b": reasonVolumeBindConflict}},
		{name: "unbound WaitForFirstConsumer claim of a provisioning class fits anywhere", pod: withClaim(pod("p"), "data"), nodes: two,
			volumes:    []objects.Object{claim("data", "lvm", ""), storageClass("lvm", "example.com/lvm", objects.VolumeBindingWaitForFirstConsumer)},
			wantFilter: fits("node-a", "node-b")},
		{name: "unbound WaitForFirstConsumer claim of a provisioning class: only the nodes of its allowed topologies", pod: withClaim(pod("p"), "data"),
			nodes:   []*objects.Node{node("node-a", LabelZone, "a"), node("node-b", LabelZone, "b"), node("node-c")},
			volumes: []objects.Object{claim("data", "zonal", ""), zonal},
			// Kubernetes' checkVolumeProvisions: the node must satisfy the
			// class's allowedTopologies.
			wantFilter: map[string]string{"node-a": "", "node-b": reasonVolumeBindConflict, "node-c": reasonVolumeBindConflict},
			wantCode:   UnschedulableAndUnresolvable},
		{name: "unbound WaitForFirstConsumer claim of a provisioning class: an available volume outside its allowed topologies", pod: withClaim(pod("p"), "data"),
			nodes:      []*objects.Node{node("node-a", LabelZone, "a"), node("node-b", LabelZone, "b")},
			volumes:    []objects.Object{claim("data", "zonal", ""), zonal, localPV("pv-b", "zonal", "node-b")},
			wantFilter: fits("node-a", "node-b")},
		{name: "a claim naming no class uses the default class", pod: withClaim(pod("p"), "data"), nodes: two,
			volumes: []objects.Object{claim("data", "", ""), localPV("pv-a", "local", "node-a"), func() *objects.StorageClass {
				c := storageClass("local", noProvisioner, objects.VolumeBindingWaitForFirstConsumer)
				c.Annotations = map[string]string{annotationDefaultClass: "true"}
				return c
			}()},
			wantFilter: map[string]string{"node-a": "", "node-b": reasonVolumeBindConflict}},
	}
	runPluginCases(t, NewVolumeBinding(), cases)
}

func rwopClaim(name string) *objects.PersistentVolumeClaim {
	c := claim(name, "local", "pv-"+name)
	c.Spec.AccessModes = []objects.PersistentVolumeAccessMode{objects.ReadWriteOncePod}
	return c
}

// Kubernetes' volume_restrictions_test.go, ReadWriteOncePod cases.
func TestVolumeRestrictions(t *testing.T) {
	two := []*objects.Node{node("node-a"), node("node-b")}
	conflict := map[string]string{"node-a": reasonReadWriteOncePod, "node-b": reasonReadWriteOncePod}
	runPluginCases(t, NewVolumeRestrictions(), []pluginCase{
		{name: "pod without claims", pod: pod("p"), nodes: two, wantFilter: fits("node-a", "node-b")},
		{name: "ReadWriteOncePod claim no other pod uses", pod: withClaim(pod("p"), "data"), nodes: two,
			volumes: []objects.Object{rwopClaim("data")}, wantFilter: fits("node-a", "node-b")},
		{name: "ReadWriteOncePod claim used by a pod on node-a: no node fits", pod: withClaim(pod("p"), "data"), nodes: two,
			existing: []*objects.Pod{on(withClaim(pod("other"), "data"), "node-a")},
			volumes:  []objects.Object{rwopClaim("data")}, wantFilter: conflict, wantCode: Unschedulable},
		{name: "ReadWriteOnce claim used by another pod", pod: withClaim(pod("p"), "data"), nodes: two,
			existing: []*objects.Pod{on(withClaim(pod("other"), "data"), "node-a")},
			volumes:  []objects.Object{claim("data", "local", "pv-data")}, wantFilter: fits("node-a", "node-b")},
		{name: "a claim of the same name in another namespace", pod: withClaim(pod("p"), "data"), nodes: two,
			existing: []*objects.Pod{on(inNamespace(withClaim(pod("other"), "data"), "other"), "node-a")},
			volumes:  []objects.Object{rwopClaim("data")}, wantFilter: fits("node-a", "node-b")},
		{name: "claim not found", pod: withClaim(pod("p"), "data"), nodes: two, wantCode: UnschedulableAndUnresolvable,
			wantFilter: map[string]string{"node-a": `persistentvolumeclaim "data" not found`, "node-b": `persistentvolumeclaim "data" not found`}},
	})
}

// A second pod using a ReadWriteOncePod claim fits nowhere while the first
// runs, and takes its place once it is gone.
func TestReadWriteOncePodEndToEnd(t *testing.T) {
	s := newStore(t)
	pv := localPV("pv-data", "local", "n1")
	pv.Spec.AccessModes = []objects.PersistentVolumeAccessMode{objects.ReadWriteOncePod}
	create(t, s, makeNode("n1", "4", "4Gi"), makeNode("n2", "4", "4Gi"), pv, rwopClaim("data"))
	run(t, s)
	create(t, s, withClaim(makePod("a", "", ""), "data"))
	require.Equal(t, "n1", waitBound(t, s, "a").Spec.NodeName)
	create(t, s, withClaim(makePod("b", "", ""), "data"))
	waitUnschedulable(t, s, "b", "0/2 nodes are available: 2 "+reasonReadWriteOncePod+". "+
		"preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Pod", key("a"), store.DeleteOptions{})
		return err
	}))
	require.Equal(t, "n1", waitBound(t, s, "b").Spec.NodeName)
}
