package volumes

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const dataLink = "..data"

// writeFiles publishes files in a volume directory the way Kubernetes'
// atomic writer does: the content goes into a hidden directory named after
// its digest, "..data" is switched to it with one rename, and each visible
// top-level entry is a symlink through "..data". A reader inside a container
// sees the old set or the new one, never a mix.
func (m *Manager) writeFiles(uid, plugin, name string, files map[string]file) (Volume, error) {
	dir := m.volDir(uid, plugin, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Volume{}, err
	}
	for p := range files {
		if filepath.IsAbs(p) || slices.Contains(strings.Split(p, "/"), "..") || strings.HasPrefix(p, "..") {
			return Volume{}, fmt.Errorf("invalid path %q: must be relative and may not contain '..'", p)
		}
	}
	digest := digestOf(files)
	target := ".." + digest
	if cur, err := os.Readlink(filepath.Join(dir, dataLink)); err == nil && cur == target {
		return Volume{Path: dir, ReadOnly: true}, nil
	}
	tdir := filepath.Join(dir, target)
	if err := os.RemoveAll(tdir); err != nil {
		return Volume{}, err
	}
	for p, f := range files {
		fp := filepath.Join(tdir, p)
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			return Volume{}, err
		}
		if err := os.WriteFile(fp, f.data, f.mode); err != nil {
			return Volume{}, err
		}
		if err := os.Chmod(fp, f.mode); err != nil {
			return Volume{}, err
		}
		if f.uid != nil || f.gid != nil {
			if err := os.Lchown(fp, owner(f.uid), owner(f.gid)); err != nil {
				return Volume{}, err
			}
		}
	}
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return Volume{}, err
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return Volume{}, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return Volume{}, err
	}
	// Visible entries: one symlink per top-level name; stale ones go.
	top := map[string]bool{}
	for p := range files {
		first, _, _ := strings.Cut(filepath.ToSlash(p), "/")
		top[first] = true
	}
	for t := range top {
		link := filepath.Join(dir, t)
		want := filepath.Join(dataLink, t)
		if cur, err := os.Readlink(link); err == nil && cur == want {
			continue
		}
		os.Remove(link)
		if err := os.Symlink(want, link); err != nil {
			return Volume{}, err
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return Volume{}, err
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "..") || top[n] {
			continue
		}
		os.Remove(filepath.Join(dir, n))
	}
	if old != "" && old != target {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Volume{}, err
		}
	}
	return Volume{Path: dir, ReadOnly: true}, nil
}

func digestOf(files map[string]file) string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	var buf bytes.Buffer
	for _, k := range keys {
		f := files[k]
		buf.Reset()
		fmt.Fprintf(&buf, "%s\x00%o\x00%d\x00", k, f.mode, len(f.data))
		if f.uid != nil || f.gid != nil {
			fmt.Fprintf(&buf, "owner=%d:%d\x00", owner(f.uid), owner(f.gid))
		}
		h.Write(buf.Bytes())
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// owner is an id for os.Lchown: -1 leaves it as it is.
func owner(id *int64) int {
	if id == nil {
		return -1
	}
	return int(*id)
}
