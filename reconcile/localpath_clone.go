package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// dataSourceOf returns what a claim's volume is to be filled from:
// dataSourceRef, which defaulting fills from dataSource, or dataSource
// for a claim stored before it was.
func dataSourceOf(claim *objects.PersistentVolumeClaim) *objects.TypedObjectReference {
	if ref := claim.Spec.DataSourceRef; ref != nil {
		return ref
	}
	if ds := claim.Spec.DataSource; ds != nil {
		return &objects.TypedObjectReference{APIGroup: ds.APIGroup, Kind: ds.Kind, Name: ds.Name}
	}
	return nil
}

// sourceClaimOf returns the name of the claim in the same namespace that
// ref names, or "" when ref names anything else.
func sourceClaimOf(claim *objects.PersistentVolumeClaim, ref *objects.TypedObjectReference) string {
	if (ref.APIGroup != nil && *ref.APIGroup != "") || ref.Kind != kindPVC ||
		(ref.Namespace != nil && *ref.Namespace != "" && *ref.Namespace != claim.Namespace) {
		return ""
	}
	return ref.Name
}

// describeDataSource names ref as kubectl names a resource:
// VolumeSnapshot.snapshot.storage.k8s.io "snap".
func describeDataSource(ref *objects.TypedObjectReference) string {
	kind := ref.Kind
	if ref.APIGroup != nil && *ref.APIGroup != "" {
		kind += "." + *ref.APIGroup
	}
	if ref.Namespace != nil && *ref.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", kind, *ref.Namespace, ref.Name)
	}
	return fmt.Sprintf("%s %q", kind, ref.Name)
}

// cloneSource is the claim a clone copies and its volume's directory.
type cloneSource struct {
	claim *objects.PersistentVolumeClaim
	dir   string
}

// cloneSourceOf checks the data source of a claim to be provisioned by
// the local-path provisioner, with the rules and much of the wording of
// Kubernetes' CSI external-provisioner: only a claim in the same namespace
// can be copied, once it is Bound, to a claim asking for at least its
// storage and the same volume mode, and only if podkit's local-path
// provisioner made its volume (the class may differ, as Kubernetes allows
// for the same driver). It returns why the claim must stay Pending
// otherwise.
func (r *claimBinder) cloneSourceOf(ctx context.Context, claim *objects.PersistentVolumeClaim, ref *objects.TypedObjectReference) (src *cloneSource, wait string, err error) {
	name := sourceClaimOf(claim, ref)
	if name == "" {
		return nil, fmt.Sprintf("data source %s is not supported by the %s provisioner, which can only clone a PersistentVolumeClaim of the same namespace; the claim stays Pending until a volume is bound to it",
			describeDataSource(ref), LocalPathProvisioner), nil
	}
	source, err := Get[*objects.PersistentVolumeClaim](ctx, r.c, objects.Key{Namespace: claim.Namespace, Name: name})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Sprintf("waiting for the source claim %q of dataSource to be created and bound: persistentvolumeclaim %q not found", name, name), nil
	}
	if err != nil {
		return nil, "", err
	}
	switch {
	case source.IsDeleting():
		return nil, fmt.Sprintf("the PVC DataSource %s is currently being deleted", name), nil
	case source.Status.Phase != objects.ClaimBound || source.Spec.VolumeName == "":
		phase := source.Status.Phase
		if phase == "" {
			phase = objects.ClaimPending
		}
		return nil, fmt.Sprintf("waiting for the source claim %q of dataSource to be bound: the PVC DataSource %s must have a status of Bound, got %s", name, name, phase), nil
	}
	want, have := claim.Spec.Resources.Requests[objects.ResourceStorage], source.Spec.Resources.Requests[objects.ResourceStorage]
	if want.Cmp(have) < 0 {
		return nil, fmt.Sprintf("error, new PVC request must be greater than or equal in size to the specified PVC data source, requested %s but source is %s", want.String(), have.String()), nil
	}
	invalid := func(format string, a ...any) (*cloneSource, string, error) {
		return nil, "claim in dataSource not bound or invalid: " + fmt.Sprintf(format, a...), nil
	}
	pv, err := Get[*objects.PersistentVolume](ctx, r.c, objects.Key{Name: source.Spec.VolumeName})
	if errors.Is(err, store.ErrNotFound) {
		return invalid("its volume %s does not exist", source.Spec.VolumeName)
	}
	if err != nil {
		return nil, "", err
	}
	if cr := pv.Spec.ClaimRef; cr == nil || cr.UID != source.UID || pv.Status.Phase != objects.VolumeBound {
		return invalid("its volume %s is not bound to it", pv.Name)
	}
	if pv.Annotations[annProvisionedBy] != LocalPathProvisioner {
		return invalid("its volume %s was not made by the %s provisioner, which clones only its own volumes", pv.Name, LocalPathProvisioner)
	}
	if s, d := volumeMode(pv.Spec.VolumeMode), volumeMode(claim.Spec.VolumeMode); s != d {
		return nil, fmt.Sprintf("the source PVC and destination PVCs must have the same volume mode for cloning. Source is %s, but new PVC requested %s", s, d), nil
	}
	dir, err := r.lp.volumeDir(pv)
	if err != nil {
		return invalid("%v", err)
	}
	return &cloneSource{claim: source, dir: dir}, "", nil
}

// cloneInto makes dir, a new volume's directory, a copy of the source's.
// The copy is made beside it and renamed into place only once complete
// and once the source claim is seen to still exist, so that a directory at
// dir is always a whole copy: a retry after a failure finds it and copies
// nothing, and a source deleted (its directory removed) while being copied
// is never published half-copied. The copy runs to its end even when ctx
// ends, as its reconcile then fails and a retry finds it done.
func (r *claimBinder) cloneInto(ctx context.Context, dir string, src *cloneSource) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	tmp := dir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	err := copyTree(tmp, src.dir)
	if err == nil {
		// Without ctx's end, which would throw the finished copy away.
		err = r.c.Txn(context.WithoutCancel(ctx), func(tx store.Tx) error {
			o, err := tx.Get(kindPVC, src.claim.Key())
			if err == nil && (o.GetObjectMeta().UID != src.claim.UID || o.GetObjectMeta().IsDeleting()) {
				err = store.ErrNotFound
			}
			if err != nil {
				return fmt.Errorf("the source claim %s went while it was copied: %w", src.claim.Name, err)
			}
			return nil
		})
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	return nil
}

// copyTree copies the directory src to dst, which must not exist: files
// with their contents, directories, symbolic links as they are (not
// followed), each with its permission bits, modification time and, where
// podkit may change it (as root), its owner. Hard links become separate
// files; sockets, the endpoints of processes, are left out; devices and
// named pipes fail the copy.
func copyTree(dst, src string) error {
	type dir struct {
		path string
		info fs.FileInfo
	}
	var dirs []dir
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			// Writable until its entries are in; its own mode comes last.
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dir{target, info})
			return nil
		case mode.IsRegular():
			if err := copyFile(target, path); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case mode&fs.ModeSocket != 0:
			return nil
		default:
			return fmt.Errorf("cannot copy %s, a special file (%s)", rel, mode.Type())
		}
		return copyAttrs(target, info)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := copyAttrs(dirs[i].path, dirs[i].info); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyAttrs gives path the owner, mode and modification time of info. The
// owner first: a change of owner clears the set-user-ID bit.
func copyAttrs(path string, info fs.FileInfo) error {
	if uid, gid, ok := fileOwner(info); ok {
		if err := os.Lchown(path, uid, gid); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return nil // chmod and chtimes would follow the link
	}
	if err := os.Chmod(path, info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return os.Chtimes(path, info.ModTime(), info.ModTime())
}

// clonesOf maps a claim to the unbound claims of its namespace that name
// it as their data source, which wait for it to be bound.
func (r *claimBinder) clonesOf(obj objects.Object) []Request {
	m := obj.GetObjectMeta()
	return r.clonesOfClaim(m.Namespace, m.Name)
}

func (r *claimBinder) clonesOfClaim(namespace, name string) []Request {
	inf := r.c.m.currentRun().informer(kindPVC)
	if inf == nil {
		return nil
	}
	clones, _ := inf.List(store.ListOptions{Namespace: namespace}, func(o objects.Object) bool {
		c := o.(*objects.PersistentVolumeClaim)
		ref := dataSourceOf(c)
		return c.Spec.VolumeName == "" && ref != nil && sourceClaimOf(c, ref) == name
	})
	reqs := make([]Request, len(clones))
	for i, o := range clones {
		reqs[i] = RequestFor(o)
	}
	return reqs
}

// sourceClaimChanged picks the changes of a claim a clone may wait for:
// creation, deletion, binding.
func sourceClaimChanged(old, new objects.Object) bool {
	if old == nil || new == nil {
		return true
	}
	o, n := old.(*objects.PersistentVolumeClaim), new.(*objects.PersistentVolumeClaim)
	return o.Status.Phase != n.Status.Phase || o.Spec.VolumeName != n.Spec.VolumeName || o.IsDeleting() != n.IsDeleting()
}
