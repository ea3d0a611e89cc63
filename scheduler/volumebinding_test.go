package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
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
