package reconcile

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func pvEnv(t *testing.T, lp LocalPathOptions, more ...func(m *Manager) error) *env {
	return newEnv(t, withControllers(append([]func(m *Manager) error{
		func(m *Manager) error { return m.Add(PersistentVolumeClaimBinderController(m, lp)) },
		func(m *Manager) error { return m.Add(PersistentVolumeController(m, lp)) },
		func(m *Manager) error { return m.AddRunnable(LocalPathDefaultClass(m, lp)) },
	}, more...)...))
}

func newPV(name, class, size string, policy objects.PersistentVolumeReclaimPolicy, labels map[string]string) *objects.PersistentVolume {
	return &objects.PersistentVolume{
		ObjectMeta: objects.ObjectMeta{Name: name, Labels: labels},
		Spec: objects.PersistentVolumeSpec{
			Capacity:                      objects.ResourceList{objects.ResourceStorage: objects.MustParseQuantity(size)},
			AccessModes:                   []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce, objects.ReadOnlyMany},
			PersistentVolumeReclaimPolicy: policy,
			StorageClassName:              class,
			PersistentVolumeSource:        objects.PersistentVolumeSource{HostPath: &objects.HostPathVolumeSource{Path: "/srv/" + name}},
		},
	}
}

func newClaim(name string, class *string, size string) *objects.PersistentVolumeClaim {
	return &objects.PersistentVolumeClaim{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.PersistentVolumeClaimSpec{
			AccessModes:      []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce},
			StorageClassName: class,
			Resources:        objects.VolumeResourceRequirements{Requests: objects.ResourceList{objects.ResourceStorage: objects.MustParseQuantity(size)}},
		},
	}
}

func getPV(tx store.ReadTx, name string) *objects.PersistentVolume {
	o, err := tx.Get(kindPV, objects.Key{Name: name})
	if err != nil {
		return nil
	}
	return o.(*objects.PersistentVolume)
}

func claimBound(name string) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		c := getClaim(tx, name)
		if c == nil {
			return false, "no claim"
		}
		pv := getPV(tx, c.Spec.VolumeName)
		ok := c.Status.Phase == objects.ClaimBound && pv != nil && pv.Status.Phase == objects.VolumeBound &&
			pv.Spec.ClaimRef != nil && pv.Spec.ClaimRef.UID == c.UID
		return ok, fmt.Sprintf("claim %+v %+v; pv %+v", c.Spec, c.Status, pv)
	}
}

func pvPhase(name string, phase objects.PersistentVolumePhase) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		pv := getPV(tx, name)
		if pv == nil {
			return false, "no volume"
		}
		return pv.Status.Phase == phase, fmt.Sprintf("%+v", pv.Status)
	}
}

func TestClaimBindsSmallestMatchingVolume(t *testing.T) {
	e := pvEnv(t, LocalPathOptions{Root: t.TempDir(), NoDefaultClass: true})
	manual := "manual"
	e.create(
		newPV("big", "manual", "10Gi", objects.PersistentVolumeReclaimRetain, nil),
		newPV("small", "manual", "2Gi", objects.PersistentVolumeReclaimRetain, nil),
		newPV("tiny", "manual", "500Mi", objects.PersistentVolumeReclaimRetain, nil),
		newPV("other", "fast", "2Gi", objects.PersistentVolumeReclaimRetain, nil),
		newPV("ssd", "manual", "20Gi", objects.PersistentVolumeReclaimDelete, map[string]string{"disk": "ssd"}),
	)
	e.waitFor("volumes available", pvPhase("tiny", objects.VolumeAvailable))
	e.create(newClaim("data", &manual, "1Gi"))
	e.waitFor("bound", claimBound("data"))
	viewT(t, e.s, func(tx store.ReadTx) {
		c := getClaim(tx, "data")
		require.Equal(t, "small", c.Spec.VolumeName)
		require.Equal(t, "2Gi", c.Status.Capacity.Storage().String())
		require.Equal(t, "yes", c.Annotations[annBindCompleted])
	})
	// A selector picks the labelled volume.
	sel := newClaim("fast-data", &manual, "1Gi")
	sel.Spec.Selector = &objects.LabelSelector{MatchLabels: map[string]string{"disk": "ssd"}}
	e.create(sel)
	e.waitFor("bound to ssd", claimBound("fast-data"))
	viewT(t, e.s, func(tx store.ReadTx) { require.Equal(t, "ssd", getClaim(tx, "fast-data").Spec.VolumeName) })
	// Nothing fits: Pending.
	e.create(newClaim("huge", &manual, "100Gi"))
	e.waitFor("pending", func(tx store.ReadTx) (bool, string) {
		c := getClaim(tx, "huge")
		return c != nil && c.Status.Phase == objects.ClaimPending && c.Spec.VolumeName == "", ""
	})

	// Retain: a released volume stays. Delete on a volume podkit did not
	// make: Failed.
	e.delete(kindPVC, dkey("data"), store.DeletePropagationBackground)
	e.delete(kindPVC, dkey("fast-data"), store.DeletePropagationBackground)
	e.waitFor("small released", pvPhase("small", objects.VolumeReleased))
	e.waitFor("ssd failed", pvPhase("ssd", objects.VolumeFailed))
	viewT(t, e.s, func(tx store.ReadTx) {
		require.NotNil(t, getPV(tx, "small").Spec.ClaimRef, "a released volume keeps its claimRef")
	})
}

func TestClaimPreBound(t *testing.T) {
	e := pvEnv(t, LocalPathOptions{Root: t.TempDir(), NoDefaultClass: true})
	none := ""
	pv := newPV("reserved", "", "1Gi", objects.PersistentVolumeReclaimRetain, nil)
	pv.Spec.ClaimRef = &objects.ObjectReference{Namespace: "default", Name: "mine"}
	e.create(pv, newPV("free", "", "1Gi", objects.PersistentVolumeReclaimRetain, nil))
	e.create(newClaim("other", &none, "1Gi"))
	e.waitFor("other bound", claimBound("other"))
	viewT(t, e.s, func(tx store.ReadTx) { require.Equal(t, "free", getClaim(tx, "other").Spec.VolumeName) })
	e.create(newClaim("mine", &none, "1Gi"))
	e.waitFor("mine bound", claimBound("mine"))
	viewT(t, e.s, func(tx store.ReadTx) { require.Equal(t, "reserved", getClaim(tx, "mine").Spec.VolumeName) })
}

func TestLocalPathImmediate(t *testing.T) {
	root := t.TempDir()
	e := pvEnv(t, LocalPathOptions{Root: root, NoDefaultClass: true})
	imm := objects.VolumeBindingImmediate
	e.create(&objects.StorageClass{ObjectMeta: objects.ObjectMeta{Name: "local"}, Provisioner: LocalPathProvisioner, VolumeBindingMode: &imm})
	class := "local"
	e.create(newClaim("scratch", &class, "1Gi"))
	e.waitFor("bound", claimBound("scratch"))
	var dir, name string
	viewT(t, e.s, func(tx store.ReadTx) {
		c := getClaim(tx, "scratch")
		pv := getPV(tx, c.Spec.VolumeName)
		name = pv.Name
		require.Equal(t, "pvc-"+c.UID, pv.Name)
		require.Equal(t, objects.PersistentVolumeReclaimDelete, pv.Spec.PersistentVolumeReclaimPolicy)
		require.Equal(t, LocalPathProvisioner, pv.Annotations[annProvisionedBy])
		require.NotNil(t, pv.Spec.HostPath)
		require.Nil(t, pv.Spec.NodeAffinity)
		dir = pv.Spec.HostPath.Path
	})
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.True(t, st.IsDir())
	require.NoError(t, os.WriteFile(dir+"/f", []byte("x"), 0o644))
	// Delete: the claim's volume and directory go.
	e.delete(kindPVC, dkey("scratch"), store.DeletePropagationBackground)
	e.waitFor("volume deleted", func(tx store.ReadTx) (bool, string) { return getPV(tx, name) == nil, "" })
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err), "directory %s removed", dir)
}

func TestLocalPathRetain(t *testing.T) {
	root := t.TempDir()
	e := pvEnv(t, LocalPathOptions{Root: root, NoDefaultClass: true})
	imm, retain := objects.VolumeBindingImmediate, objects.PersistentVolumeReclaimRetain
	e.create(&objects.StorageClass{ObjectMeta: objects.ObjectMeta{Name: "keep"}, Provisioner: LocalPathProvisioner,
		VolumeBindingMode: &imm, ReclaimPolicy: &retain})
	class := "keep"
	e.create(newClaim("precious", &class, "1Gi"))
	e.waitFor("bound", claimBound("precious"))
	var name, dir string
	viewT(t, e.s, func(tx store.ReadTx) {
		pv := getPV(tx, getClaim(tx, "precious").Spec.VolumeName)
		name, dir = pv.Name, pv.Spec.HostPath.Path
	})
	e.delete(kindPVC, dkey("precious"), store.DeletePropagationBackground)
	e.waitFor("released", pvPhase(name, objects.VolumeReleased))
	_, err := os.Stat(dir)
	require.NoError(t, err, "Retain keeps the data")
}

// WaitForFirstConsumer: the default local-path class waits for the
// scheduler to place the first pod, then the volume is made on that node,
// and later pods using the claim follow it there.
func TestLocalPathWaitForFirstConsumer(t *testing.T) {
	root := t.TempDir()
	e := pvEnv(t, LocalPathOptions{Root: root})
	e.runScheduler()
	e.runNodeAgents()
	e.create(newNode("n1"), newNode("n2"), newNode("n3"))
	e.waitFor("default class", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get(kindStorageClass, objects.Key{Name: DefaultLocalPathClass})
		if err != nil {
			return false, err.Error()
		}
		sc := o.(*objects.StorageClass)
		return sc.Annotations[objects.AnnotationIsDefaultStorageClass] == "true" && *sc.VolumeBindingMode == objects.VolumeBindingWaitForFirstConsumer, ""
	})
	e.create(newClaim("data", nil, "1Gi"))
	e.waitFor("default class set, waiting", func(tx store.ReadTx) (bool, string) {
		c := getClaim(tx, "data")
		return c.Spec.StorageClassName != nil && *c.Spec.StorageClassName == DefaultLocalPathClass &&
			c.Status.Phase == objects.ClaimPending, fmt.Sprintf("%+v", c)
	})
	viewT(t, e.s, func(tx store.ReadTx) { require.Empty(t, getClaim(tx, "data").Spec.VolumeName) })

	user := func(name string) *objects.Pod {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
			Spec: objects.PodSpec{Containers: []objects.Container{{Name: "c", Image: "x:1", VolumeMounts: []objects.VolumeMount{{Name: "d", MountPath: "/d"}}}},
				Volumes: []objects.Volume{{Name: "d", VolumeSource: objects.VolumeSource{PersistentVolumeClaim: &objects.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
		return p
	}
	e.create(user("first"))
	e.waitFor("bound", claimBound("data"))
	var node string
	e.waitFor("first scheduled", func(tx store.ReadTx) (bool, string) {
		node = getPod(tx, "first").Spec.NodeName
		return node != "", ""
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		c := getClaim(tx, "data")
		require.Equal(t, node, c.Annotations[AnnotationSelectedNode])
		pv := getPV(tx, c.Spec.VolumeName)
		require.NotNil(t, pv.Spec.Local)
		require.True(t, nodeMatchesSelector(getNode(tx, node), pv.Spec.NodeAffinity.Required))
		for _, other := range []string{"n1", "n2", "n3"} {
			if other != node {
				require.False(t, nodeMatchesSelector(getNode(tx, other), pv.Spec.NodeAffinity.Required))
			}
		}
		_, err := os.Stat(pv.Spec.Local.Path)
		require.NoError(t, err)
	})
	for i := range 3 {
		e.create(user(fmt.Sprintf("later-%d", i)))
	}
	e.waitFor("later pods follow the volume", func(tx store.ReadTx) (bool, string) {
		ok := true
		var seen []string
		for i := range 3 {
			p := getPod(tx, fmt.Sprintf("later-%d", i))
			ok = ok && p.Spec.NodeName == node
			seen = append(seen, p.Name+"@"+p.Spec.NodeName)
		}
		return ok, fmt.Sprint(seen)
	})
}

// A StatefulSet's claims get local volumes from the default class, each on
// the node of its pod.
func TestStatefulSetWithLocalPath(t *testing.T) {
	e := pvEnv(t, LocalPathOptions{Root: t.TempDir()}, func(m *Manager) error { return m.Add(StatefulSetController(m)) })
	e.runScheduler()
	e.runNodeAgents()
	e.create(newNode("n1"), newNode("n2"))
	e.waitFor("default class", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get(kindStorageClass, objects.Key{Name: DefaultLocalPathClass})
		return err == nil, ""
	})
	e.create(newStatefulSet("db", 3))
	e.waitFor("3 ready", stsReady("db", 3, "db:1"))
	// The test's node agents do not wait for volumes, as podkit's do.
	for i := range 3 {
		e.waitFor("claim bound", claimBound(fmt.Sprintf("data-db-%d", i)))
	}
	viewT(t, e.s, func(tx store.ReadTx) {
		for i := range 3 {
			p := getPod(tx, fmt.Sprintf("db-%d", i))
			c := getClaim(tx, fmt.Sprintf("data-db-%d", i))
			require.Equal(t, objects.ClaimBound, c.Status.Phase)
			pv := getPV(tx, c.Spec.VolumeName)
			require.True(t, nodeMatchesSelector(getNode(tx, p.Spec.NodeName), pv.Spec.NodeAffinity.Required))
		}
	})
}

// WaitForFirstConsumer with a local volume an administrator made (no
// provisioner): the claim waits for its first pod; the scheduler places
// the pod on the node the volume's nodeAffinity names, and the claim binds
// to that volume.
func TestWaitForFirstConsumerExistingLocalVolume(t *testing.T) {
	e := pvEnv(t, LocalPathOptions{Root: t.TempDir(), NoDefaultClass: true})
	e.runScheduler()
	e.runNodeAgents()
	e.create(newNode("n1"), newNode("n2"), newNode("n3"))
	wait := objects.VolumeBindingWaitForFirstConsumer
	e.create(&objects.StorageClass{ObjectMeta: objects.ObjectMeta{Name: "local"}, Provisioner: noProvisioner, VolumeBindingMode: &wait})
	local := func(name, node, size string) *objects.PersistentVolume {
		pv := newPV(name, "local", size, objects.PersistentVolumeReclaimRetain, nil)
		pv.Spec.HostPath = nil
		pv.Spec.Local = &objects.LocalVolumeSource{Path: "/mnt/disks/" + name}
		pv.Spec.NodeAffinity = &objects.VolumeNodeAffinity{Required: &objects.NodeSelector{NodeSelectorTerms: []objects.NodeSelectorTerm{{
			MatchExpressions: []objects.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: objects.NodeSelectorOpIn, Values: []string{node}}},
		}}}}
		return pv
	}
	// Only n2's volume is big enough.
	e.create(local("disk-n1", "n1", "500Mi"), local("disk-n2", "n2", "5Gi"))
	e.waitFor("volumes available", pvPhase("disk-n2", objects.VolumeAvailable))
	class := "local"
	e.create(newClaim("data", &class, "1Gi"))
	require.Eventually(t, func() bool { return e.events.has("WaitForFirstConsumer") }, waitTimeout, time.Millisecond)
	viewT(t, e.s, func(tx store.ReadTx) {
		c := getClaim(tx, "data")
		require.Equal(t, objects.ClaimPending, c.Status.Phase)
		require.Empty(t, c.Spec.VolumeName, "not bound before a pod uses it")
		require.Nil(t, getPV(tx, "disk-n2").Spec.ClaimRef)
	})

	e.create(&objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "user"},
		Spec: objects.PodSpec{Containers: []objects.Container{{Name: "c", Image: "x:1", VolumeMounts: []objects.VolumeMount{{Name: "d", MountPath: "/d"}}}},
			Volumes: []objects.Volume{{Name: "d", VolumeSource: objects.VolumeSource{PersistentVolumeClaim: &objects.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}})
	e.waitFor("bound", claimBound("data"))
	e.waitFor("user on n2", func(tx store.ReadTx) (bool, string) {
		p := getPod(tx, "user")
		return p.Spec.NodeName == "n2", p.Spec.NodeName
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		c := getClaim(tx, "data")
		require.Equal(t, "disk-n2", c.Spec.VolumeName)
		require.Equal(t, "n2", c.Annotations[AnnotationSelectedNode])
		require.Equal(t, objects.VolumeAvailable, getPV(tx, "disk-n1").Status.Phase)
	})
}
