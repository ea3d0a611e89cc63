package volumes

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/podkit/podkit/objects"
)

// Usage returns the bytes of the node's disk that the pod's volume v takes
// under the manager, as du -x counts them: the blocks of each file and
// directory, a file with several links once. ok is false for a volume
// whose data is not the node's to count (a hostPath, a claim) and for one
// not set up yet.
func (m *Manager) Usage(uid string, v *objects.Volume) (bytes uint64, ok bool, err error) {
	var plugin string
	switch {
	case v.EmptyDir != nil:
		plugin = "empty-dir"
	case v.ConfigMap != nil:
		plugin = "configmap"
	case v.Secret != nil:
		plugin = "secret"
	case v.DownwardAPI != nil:
		plugin = "downward-api"
	case v.Projected != nil:
		plugin = "projected"
	default:
		return 0, false, nil
	}
	if m.Root() == "" {
		return 0, false, nil
	}
	n, err := DiskUsage(m.volDir(uid, plugin, v.Name))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	return n, err == nil, err
}

// DiskUsage returns the bytes of disk the tree at root takes, as du -x
// counts them: the blocks in use of each file and directory on root's
// file system, a file with several links once. Entries removed during
// the walk are skipped.
func DiskUsage(root string) (uint64, error) {
	top, err := os.Lstat(root)
	if err != nil {
		return 0, err
	}
	dev, _ := devIno(top)
	seen := map[[2]uint64]bool{}
	var total uint64
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != root {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if dv, ino := devIno(info); dv != dev {
			if d.IsDir() {
				return filepath.SkipDir // another file system mounted here
			}
			return nil
		} else if links(info) > 1 {
			k := [2]uint64{dv, ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += blockBytes(info)
		return nil
	})
	return total, err
}
