package nodeagent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/objects"
)

// setVolumeOwnership makes the volumes of pod that support ownership
// management belong to its fsGroup, as the kubelet's SetVolumeOwnership:
// every file and directory gets the group (symlinks too, not followed),
// group read and write (read only for the read-only kinds), and
// directories group execute and setgid, so that what the pod's
// containers create there belongs to the group too.
//
// Those volumes are emptyDir, persistentVolumeClaim (and ephemeral) bound
// to a local volume, where the kubelet does it once, when it mounts them,
// honouring fsGroupChangePolicy; and configMap, secret, downwardAPI and
// projected, whose content the agent may rewrite at every sync and which
// it owns each time, as the kubelet does at each of their remounts (their
// files are written with the group already, internal/volumes' forFSGroup,
// so that a new version is the group's from the moment it is swapped in).
// hostPath volumes (and claims bound to hostPath volumes) are left as
// they are. A failure is a *volumes.Error, a FailedMount.
func (a *Agent) setVolumeOwnership(pod *objects.Pod, res *resolver, vols map[string]volumes.Volume) error {
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.FSGroup == nil || len(vols) == 0 {
		return nil
	}
	gid := int(*sc.FSGroup)
	onRootMismatch := sc.FSGroupChangePolicy != nil && *sc.FSGroupChangePolicy == objects.FSGroupChangeOnRootMismatch
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		vol, ok := vols[v.Name]
		if !ok || vol.Path == "" {
			continue
		}
		var err error
		switch {
		case v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil:
			err = changeOwnership(vol.Path, gid, true)
		case v.EmptyDir != nil:
			err = a.ownOnce(pod, v.Name, vol.Path, gid, false, onRootMismatch)
		case v.PersistentVolumeClaim != nil || v.Ephemeral != nil:
			claim := objects.EphemeralClaimName(pod, v)
			if v.PersistentVolumeClaim != nil {
				claim = v.PersistentVolumeClaim.ClaimName
			}
			if local, lerr := res.claimIsLocal(pod.Namespace, claim); lerr != nil {
				err = lerr
			} else if local {
				err = a.ownOnce(pod, v.Name, vol.Path, gid, vol.ReadOnly, onRootMismatch)
			}
		}
		if err != nil {
			return &volumes.Error{Volume: v.Name, Err: fmt.Errorf("failed to set the ownership of the volume to fsGroup %d: %w", gid, err)}
		}
	}
	return nil
}

// ownOnce owns a volume the kubelet owns once, when it mounts it: a mark
// in the pod's directory of the volume manager (gone with the pod's
// volumes) remembers it was done, across restarts of the agent.
func (a *Agent) ownOnce(pod *objects.Pod, name, path string, gid int, readOnly, onRootMismatch bool) error {
	mark := filepath.Join(a.volumes.Root(), "pods", pod.UID, "fsgroup", name)
	if _, err := os.Stat(mark); err == nil {
		return nil
	}
	if !onRootMismatch || needsOwnership(path, gid, readOnly) {
		if err := changeOwnership(path, gid, readOnly); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(mark), 0o700); err != nil {
		return err
	}
	return os.WriteFile(mark, nil, 0o600)
}

// Permission bits a volume's files get for its fsGroup.
const (
	ownRW   fs.FileMode = 0o660
	ownRO   fs.FileMode = 0o440
	ownExec fs.FileMode = 0o110
)

// changeOwnership gives every file under root the group gid and its
// permissions, not following symlinks.
func changeOwnership(root string, gid int, readOnly bool) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone since it was listed
			}
			return err
		}
		if err := os.Lchown(path, -1, gid); err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		return os.Chmod(path, info.Mode()|ownershipMask(info.IsDir(), readOnly))
	})
}

func ownershipMask(dir, readOnly bool) fs.FileMode {
	mask := ownRW
	if readOnly {
		mask = ownRO
	}
	if dir {
		mask |= fs.ModeSetgid | ownExec
	}
	return mask
}

// needsOwnership reports whether a volume's root lacks the group gid or
// its permissions (fsGroupChangePolicy OnRootMismatch looks no further).
func needsOwnership(root string, gid int, readOnly bool) bool {
	info, err := os.Stat(root)
	if err != nil {
		return true
	}
	if g, ok := fileGID(info); !ok || g != gid {
		return true
	}
	mask := ownershipMask(info.IsDir(), readOnly)
	return info.Mode()&mask != mask
}

// claimIsLocal reports whether the volume bound to a claim is a local
// volume, whose ownership the kubelet manages, rather than a hostPath
// one, whose it leaves.
func (r *resolver) claimIsLocal(namespace, claim string) (bool, error) {
	o, err := r.get("PersistentVolumeClaim", namespace, claim)
	if err != nil {
		return false, err
	}
	o, err = r.get("PersistentVolume", "", o.(*objects.PersistentVolumeClaim).Spec.VolumeName)
	if err != nil {
		return false, err
	}
	return o.(*objects.PersistentVolume).Spec.Local != nil, nil
}
