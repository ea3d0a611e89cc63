package reconcile

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// waitEvent waits until an event containing substr was recorded.
func waitEvent(t *testing.T, e *env, substr string) {
	t.Helper()
	if !assert.Eventually(t, func() bool { return e.events.has(substr) }, waitTimeout, time.Millisecond) {
		t.Fatalf("no event with %q; events:\n%s", substr, e.events)
	}
}

func cloneClaim(name, class, size, source string) *objects.PersistentVolumeClaim {
	c := newClaim(name, &class, size)
	c.Spec.DataSource = &objects.TypedLocalObjectReference{Kind: kindPVC, Name: source}
	return c
}

// claimDir returns the directory of a bound claim's volume.
func claimDir(t *testing.T, e *env, name string) string {
	t.Helper()
	var dir string
	viewT(t, e.s, func(tx store.ReadTx) {
		pv := getPV(tx, getClaim(tx, name).Spec.VolumeName)
		require.NotNil(t, pv)
		if pv.Spec.Local != nil {
			dir = pv.Spec.Local.Path
		} else {
			dir = pv.Spec.HostPath.Path
		}
	})
	return dir
}

func claimPending(name string) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		c := getClaim(tx, name)
		return c != nil && c.Status.Phase == objects.ClaimPending && c.Spec.VolumeName == "", fmt.Sprintf("%+v", c)
	}
}

func immediateLocalClass(name string) *objects.StorageClass {
	imm := objects.VolumeBindingImmediate
	return &objects.StorageClass{ObjectMeta: objects.ObjectMeta{Name: name}, Provisioner: LocalPathProvisioner, VolumeBindingMode: &imm}
}

// A clone's volume starts as a copy of its source's files: contents,
// directories, symbolic links and modes; and then lives on its own.
func TestLocalPathClone(t *testing.T) {
	e := pvEnv(t, LocalPathOptions{Root: t.TempDir(), NoDefaultClass: true})
	e.create(immediateLocalClass("local"), immediateLocalClass("local-b"))
	e.create(newClaim("src", ptr("local"), "1Gi"))
	e.waitFor("source bound", claimBound("src"))
	src := claimDir(t, e, "src")
	require.NoError(t, os.WriteFile(filepath.Join(src, "data.txt"), []byte("hello"), 0o640))
	require.NoError(t, os.Mkdir(filepath.Join(src, "sub"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(src, "sub", "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Symlink("data.txt", filepath.Join(src, "link")))
	require.NoError(t, os.Symlink("/nonexistent/target", filepath.Join(src, "dangling")))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(src, "data.txt"), old, old))

	e.create(cloneClaim("copy", "local", "2Gi", "src"))
	// By dataSourceRef, into a class of the same provisioner.
	byRef := newClaim("copy-b", ptr("local-b"), "1Gi")
	byRef.Spec.DataSourceRef = &objects.TypedObjectReference{Kind: kindPVC, Name: "src"}
	e.create(byRef)
	e.waitFor("clone bound", claimBound("copy"))
	e.waitFor("clone by dataSourceRef bound", claimBound("copy-b"))
	waitEvent(t, e, "copy ProvisioningSucceeded")

	for _, name := range []string{"copy", "copy-b"} {
		dst := claimDir(t, e, name)
		require.NotEqual(t, src, dst)
		got, err := os.ReadFile(filepath.Join(dst, "data.txt"))
		require.NoError(t, err)
		assert.Equal(t, "hello", string(got))
		for file, mode := range map[string]os.FileMode{".": 0o777, "data.txt": 0o640, "sub": 0o750, "sub/run.sh": 0o755} {
			st, err := os.Stat(filepath.Join(dst, file))
			require.NoError(t, err)
			assert.Equal(t, mode, st.Mode().Perm(), "%s of %s", file, name)
		}
		st, err := os.Stat(filepath.Join(dst, "data.txt"))
		require.NoError(t, err)
		assert.True(t, st.ModTime().Equal(old), "modification time kept: %v", st.ModTime())
		for link, target := range map[string]string{"link": "data.txt", "dangling": "/nonexistent/target"} {
			got, err := os.Readlink(filepath.Join(dst, link))
			require.NoError(t, err, "%s is a symbolic link", link)
			assert.Equal(t, target, got)
		}
		_, err = os.Stat(dst + ".partial")
		assert.True(t, os.IsNotExist(err), "no copy left beside the volume")
	}
	viewT(t, e.s, func(tx store.ReadTx) {
		c := getClaim(tx, "copy")
		assert.Equal(t, "2Gi", c.Status.Capacity.Storage().String(), "a clone may be bigger than its source")
		assert.Equal(t, LocalPathProvisioner, getPV(tx, c.Spec.VolumeName).Annotations[annProvisionedBy])
	})

	// Independent: writing the clone leaves the source alone, and the
	// source may go.
	dst := claimDir(t, e, "copy")
	require.NoError(t, os.WriteFile(filepath.Join(dst, "data.txt"), []byte("changed"), 0o640))
	got, err := os.ReadFile(filepath.Join(src, "data.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
	var srcPV string
	viewT(t, e.s, func(tx store.ReadTx) { srcPV = getClaim(tx, "src").Spec.VolumeName })
	e.delete(kindPVC, dkey("src"), store.DeletePropagationBackground)
	e.waitFor("source volume deleted", func(tx store.ReadTx) (bool, string) { return getPV(tx, srcPV) == nil, "" })
	_, err = os.Stat(src)
	require.True(t, os.IsNotExist(err), "source directory removed: %v", err)
	got, err = os.ReadFile(filepath.Join(dst, "data.txt"))
	require.NoError(t, err)
	assert.Equal(t, "changed", string(got))
}

// A clone of a claim that does not exist yet, then is not bound yet, waits
// with an event saying so, and is made once the source binds.
func TestLocalPathCloneWaitsForSource(t *testing.T) {
	root := t.TempDir()
	e := pvEnv(t, LocalPathOptions{Root: root, NoDefaultClass: true})
	wait := objects.VolumeBindingWaitForFirstConsumer
	e.create(immediateLocalClass("local"), newNode("n1"),
		&objects.StorageClass{ObjectMeta: objects.ObjectMeta{Name: "later"}, Provisioner: LocalPathProvisioner, VolumeBindingMode: &wait})

	e.create(cloneClaim("copy", "local", "1Gi", "src"))
	waitEvent(t, e, `copy ProvisioningFailed: waiting for the source claim "src" of dataSource to be created and bound: persistentvolumeclaim "src" not found`)
	e.waitFor("clone pending", claimPending("copy"))

	// The source exists but waits for its first consumer.
	e.create(newClaim("src", ptr("later"), "1Gi"))
	waitEvent(t, e, `copy ProvisioningFailed: waiting for the source claim "src" of dataSource to be bound: the PVC DataSource src must have a status of Bound, got Pending`)
	e.waitFor("clone still pending", claimPending("copy"))

	// Put a file where the source's volume will be, then let it bind.
	var uid string
	viewT(t, e.s, func(tx store.ReadTx) { uid = getClaim(tx, "src").UID })
	srcDir := filepath.Join(root, fmt.Sprintf("pvc-%s_default_src", uid))
	require.NoError(t, os.MkdirAll(srcDir, 0o777))
	require.NoError(t, os.WriteFile(filepath.Join(srcDir, "seed"), []byte("42"), 0o644))
	e.mutate(kindPVC, dkey("src"), func(o objects.Object) {
		o.GetObjectMeta().Annotations = map[string]string{AnnotationSelectedNode: "n1"}
	})
	e.waitFor("source bound", claimBound("src"))
	e.waitFor("clone bound once the source is", claimBound("copy"))
	got, err := os.ReadFile(filepath.Join(claimDir(t, e, "copy"), "seed"))
	require.NoError(t, err)
	assert.Equal(t, "42", string(got))
}

// A clone asking for less storage than its source stays Pending, with
// Kubernetes' reason; nothing is made for it.
func TestLocalPathCloneTooSmall(t *testing.T) {
	root := t.TempDir()
	e := pvEnv(t, LocalPathOptions{Root: root, NoDefaultClass: true})
	e.create(immediateLocalClass("local"))
	e.create(newClaim("src", ptr("local"), "2Gi"))
	e.waitFor("source bound", claimBound("src"))
	e.create(cloneClaim("small", "local", "1Gi", "src"))
	waitEvent(t, e, "small ProvisioningFailed: error, new PVC request must be greater than or equal in size to the specified PVC data source, requested 1Gi but source is 2Gi")
	e.waitFor("pending", claimPending("small"))
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only the source's directory: %v", entries)
	assert.Len(t, e.list(kindPV, store.ListOptions{}), 1, "only the source's volume")
}

// A data source the local-path provisioner cannot fill (a VolumeSnapshot)
// leaves the claim Pending with an event, neither provisioned empty nor
// bound to a free volume; a volume made for it (as a populator would)
// binds.
func TestLocalPathUnsupportedDataSource(t *testing.T) {
	e := pvEnv(t, LocalPathOptions{Root: t.TempDir(), NoDefaultClass: true})
	e.create(immediateLocalClass("local"))
	e.create(newPV("free", "local", "5Gi", objects.PersistentVolumeReclaimRetain, nil))
	e.waitFor("free volume available", pvPhase("free", objects.VolumeAvailable))
	c := newClaim("restore", ptr("local"), "1Gi")
	c.Spec.DataSource = &objects.TypedLocalObjectReference{APIGroup: ptr("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "snap"}
	e.create(c)
	waitEvent(t, e, `restore ProvisioningFailed: data source VolumeSnapshot.snapshot.storage.k8s.io "snap" is not supported by the podkit.io/local-path provisioner`)
	e.waitFor("pending", claimPending("restore"))
	viewT(t, e.s, func(tx store.ReadTx) {
		assert.Nil(t, getPV(tx, "free").Spec.ClaimRef, "a free volume holds no snapshot's data")
	})
	assert.Len(t, e.list(kindPV, store.ListOptions{}), 1, "no volume provisioned")

	var uid string
	viewT(t, e.s, func(tx store.ReadTx) { uid = getClaim(tx, "restore").UID })
	made := newPV("restored", "local", "1Gi", objects.PersistentVolumeReclaimRetain, nil)
	made.Spec.ClaimRef = &objects.ObjectReference{Kind: kindPVC, Namespace: "default", Name: "restore", UID: uid}
	e.create(made)
	e.waitFor("bound to the volume made for it", claimBound("restore"))
	viewT(t, e.s, func(tx store.ReadTx) { assert.Equal(t, "restored", getClaim(tx, "restore").Spec.VolumeName) })
}

// copyTree gives a read-only directory its mode only once its entries are
// in, and leaves sockets out.
func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o600))
	l, err := net.Listen("unix", filepath.Join(src, "sock"))
	if err == nil {
		defer l.Close()
	}
	require.NoError(t, os.Chmod(src, 0o500))
	t.Cleanup(func() { os.Chmod(src, 0o700) })
	dst := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, copyTree(dst, src))
	t.Cleanup(func() { os.Chmod(dst, 0o700) })
	st, err := os.Stat(dst)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o500), st.Mode().Perm())
	entries, err := os.ReadDir(dst)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the socket is left out")
	assert.Equal(t, "f", entries[0].Name())
}
