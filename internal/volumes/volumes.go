// Package volumes prepares the volumes of pods on a node's disk for the node
// agent: per-pod emptyDir directories, hostPath checks, ConfigMap, Secret,
// downward API and projected volumes (with service account tokens and
// ClusterTrustBundles' trust anchors)
// written as files (swapped atomically when their source changes or a
// token is refreshed, so that running containers see updates), and the
// paths of persistent volumes.
//
// Layout under the root: pods/<uid>/volumes/<plugin>/<volume name>. A pod's
// directory goes with Teardown.
package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Source supplies what a pod's volumes refer to. Lookups of missing objects
// return errors wrapping store.ErrNotFound.
type Source interface {
	ConfigMap(namespace, name string) (*objects.ConfigMap, error)
	Secret(namespace, name string) (*objects.Secret, error)
	// ClaimPath returns the host path of the volume bound to a claim.
	ClaimPath(namespace, claim string) (string, error)
	// FieldRef and ResourceFieldRef resolve downward API selectors.
	FieldRef(sel *objects.ObjectFieldSelector) (string, error)
	ResourceFieldRef(sel *objects.ResourceFieldSelector) (string, error)
}

// TokenSource is the capability of a Source that issues service account
// tokens for the pod whose volumes it serves: a token of the pod's
// service account, bound to the pod, for audience ("": the issuer's API
// audiences), valid for expirationSeconds. It may hand out the same
// token again until the token is due for a refresh.
type TokenSource interface {
	ServiceAccountToken(audience string, expirationSeconds int64) (string, error)
}

// Volume is a prepared volume.
type Volume struct {
	Path string
	// ReadOnly is set for volumes Kubernetes always mounts read-only
	// (configMap, secret, downwardAPI, projected, image).
	ReadOnly bool
	// Image is the image of an image volume, whose files the runtime
	// mounts (runtime.Mount.Image); Path is empty.
	Image string
}

// Manager keeps pod volumes under one root directory. It is safe for
// concurrent use on different pods; calls for one pod must not overlap.
type Manager struct {
	mu     sync.Mutex
	root   string
	prefix string // of a temporary root made on first use, when root is ""
}

// New returns a manager keeping volumes under root.
func New(root string) *Manager { return &Manager{root: root} }

// NewTemp returns a manager whose root is a new temporary directory named
// after prefix, made when a pod first needs one.
func NewTemp(prefix string) *Manager { return &Manager{prefix: prefix} }

// Root returns the manager's root directory ("" while a temporary one is
// not made yet).
func (m *Manager) Root() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.root
}

func (m *Manager) ensureRoot() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.root == "" {
		dir, err := os.MkdirTemp("", m.prefix)
		if err != nil {
			return "", err
		}
		m.root = dir
	}
	return m.root, nil
}

// Close removes the temporary root of a NewTemp manager when no pod has
// a directory there any more: the volumes of pods whose containers still
// run outlive their agent. A later Setup makes a new root. A manager of a
// given root leaves it as it is.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.prefix == "" || m.root == "" {
		return nil
	}
	pods := filepath.Join(m.root, "pods")
	switch ents, err := os.ReadDir(pods); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("remove volume root: %w", err)
	case len(ents) > 0:
		return nil
	}
	if err := os.RemoveAll(m.root); err != nil {
		return fmt.Errorf("remove volume root: %w", err)
	}
	m.root = ""
	return nil
}

func (m *Manager) podDir(uid string) string { return filepath.Join(m.Root(), "pods", uid) }

// Error is a volume that could not be prepared, named as Kubernetes'
// FailedMount events name it.
type Error struct {
	Volume string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Setup prepares every volume of pod, writing or refreshing file content,
// and returns them by name. Calling it again refreshes configMap, secret
// and downward API content; unchanged content is not rewritten.
func (m *Manager) Setup(pod *objects.Pod, src Source) (map[string]Volume, error) {
	if len(pod.Spec.Volumes) == 0 {
		return nil, nil
	}
	if _, err := m.ensureRoot(); err != nil {
		return nil, err
	}
	out := make(map[string]Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		vol, err := m.setup(pod, v, src)
		if err != nil {
			return nil, &Error{Volume: v.Name, Err: err}
		}
		out[v.Name] = vol
	}
	return out, nil
}

func (m *Manager) volDir(uid, plugin, name string) string {
	return filepath.Join(m.podDir(uid), "volumes", plugin, name)
}

func (m *Manager) setup(pod *objects.Pod, v *objects.Volume, src Source) (Volume, error) {
	uid, ns := pod.UID, pod.Namespace
	switch {
	case v.EmptyDir != nil:
		dir := m.volDir(uid, "empty-dir", v.Name)
		// Made world-writable once, whatever the umask, as the kubelet
		// makes it when it mounts it: what the pod or its fsGroup later
		// does to its mode is kept.
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return Volume{}, err
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				return Volume{}, err
			}
		} else if err != nil {
			return Volume{}, err
		}
		if v.EmptyDir.Medium == objects.StorageMediumMemory {
			mountTmpfs(dir, v.EmptyDir.SizeLimit)
		}
		return Volume{Path: dir}, nil
	case v.HostPath != nil:
		return Volume{Path: v.HostPath.Path}, checkHostPath(v.HostPath)
	case v.Image != nil:
		return Volume{Image: v.Image.Reference, ReadOnly: true}, nil
	case v.PersistentVolumeClaim != nil:
		p, err := src.ClaimPath(ns, v.PersistentVolumeClaim.ClaimName)
		return Volume{Path: p, ReadOnly: v.PersistentVolumeClaim.ReadOnly}, err
	case v.Ephemeral != nil:
		p, err := src.ClaimPath(ns, objects.EphemeralClaimName(pod, v))
		return Volume{Path: p}, err
	case v.ConfigMap != nil:
		files, err := configMapFiles(ns, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.DefaultMode, v.ConfigMap.Optional, src)
		if err != nil {
			return Volume{}, err
		}
		return m.writeFiles(uid, "configmap", v.Name, forFSGroup(pod, files))
	case v.Secret != nil:
		files, err := secretFiles(ns, v.Secret.SecretName, v.Secret.Items, v.Secret.DefaultMode, v.Secret.Optional, src)
		if err != nil {
			return Volume{}, err
		}
		return m.writeFiles(uid, "secret", v.Name, forFSGroup(pod, files))
	case v.DownwardAPI != nil:
		files, err := downwardFiles(v.DownwardAPI.Items, v.DownwardAPI.DefaultMode, src)
		if err != nil {
			return Volume{}, err
		}
		return m.writeFiles(uid, "downward-api", v.Name, forFSGroup(pod, files))
	case v.Projected != nil:
		files := map[string]file{}
		for _, s := range v.Projected.Sources {
			var fs map[string]file
			var err error
			switch {
			case s.ConfigMap != nil:
				fs, err = configMapFiles(ns, s.ConfigMap.Name, s.ConfigMap.Items, v.Projected.DefaultMode, s.ConfigMap.Optional, src)
			case s.Secret != nil:
				fs, err = secretFiles(ns, s.Secret.Name, s.Secret.Items, v.Projected.DefaultMode, s.Secret.Optional, src)
			case s.DownwardAPI != nil:
				fs, err = downwardFiles(s.DownwardAPI.Items, v.Projected.DefaultMode, src)
			case s.ServiceAccountToken != nil:
				fs, err = tokenFiles(pod, s.ServiceAccountToken, v.Projected.DefaultMode, src)
			case s.ClusterTrustBundle != nil:
				fs, err = trustBundleFiles(pod, s.ClusterTrustBundle, v.Projected.DefaultMode, src)
			}
			if err != nil {
				return Volume{}, err
			}
			for k, f := range fs {
				files[k] = f
			}
		}
		return m.writeFiles(uid, "projected", v.Name, forFSGroup(pod, files))
	}
	return Volume{}, errors.New("volume has no supported source")
}

// fsGroupRead is the permission a file of a ConfigMap, Secret, downward
// API or projected volume gets for the pod's fsGroup: group read, as
// nodeagent's setVolumeOwnership gives it.
const fsGroupRead os.FileMode = 0o440

// forFSGroup gives files the group and group read of pod's fsGroup, if
// it has one, before they are swapped in: as the kubelet's atomic writer
// sets a new version's ownership before it makes it the volume's, so
// that the pod's group can read a changed file from the moment it
// appears (setVolumeOwnership gives the volume's directories the group
// once they are in place).
func forFSGroup(pod *objects.Pod, files map[string]file) map[string]file {
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.FSGroup == nil {
		return files
	}
	for k, f := range files {
		if f.gid == nil {
			f.gid = sc.FSGroup
		}
		f.mode |= fsGroupRead
		files[k] = f
	}
	return files
}

type file struct {
	data []byte
	mode os.FileMode
	uid  *int64 // the file's owner, when not the agent's user
	gid  *int64 // the file's group, when not the agent's
}

func mode(item, def *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case def != nil:
		return os.FileMode(*def)
	}
	return os.FileMode(objects.DefaultVolumeMode)
}

func keyFiles(kind, ns, name string, data map[string][]byte, items []objects.KeyToPath, def *int32) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, d := range data {
			out[k] = file{data: d, mode: mode(nil, def)}
		}
		return out, nil
	}
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("configuration key %q not found in %s %s/%s", it.Key, kind, ns, name)
		}
		out[it.Path] = file{data: d, mode: mode(it.Mode, def)}
	}
	return out, nil
}

func optional(b *bool) bool { return b != nil && *b }

func configMapFiles(ns, name string, items []objects.KeyToPath, def *int32, opt *bool, src Source) (map[string]file, error) {
	cm, err := src.ConfigMap(ns, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && optional(opt) {
			return nil, nil
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("configmap %q not found", name)
		}
		return nil, err
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles("ConfigMap", ns, name, data, items, def)
}

func secretFiles(ns, name string, items []objects.KeyToPath, def *int32, opt *bool, src Source) (map[string]file, error) {
	s, err := src.Secret(ns, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && optional(opt) {
			return nil, nil
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("secret %q not found", name)
		}
		return nil, err
	}
	return keyFiles("Secret", ns, name, s.Data, items, def)
}

func downwardFiles(items []objects.DownwardAPIVolumeFile, def *int32, src Source) (map[string]file, error) {
	out := map[string]file{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = src.FieldRef(it.FieldRef)
		case it.ResourceFieldRef != nil:
			v, err = src.ResourceFieldRef(it.ResourceFieldRef)
		default:
			err = fmt.Errorf("downward API item %q has no source", it.Path)
		}
		if err != nil {
			return nil, err
		}
		out[it.Path] = file{data: []byte(v), mode: mode(it.Mode, def)}
	}
	return out, nil
}

// tokenFiles is a projected service account token, as the kubelet writes
// it: with the volume's defaultMode, but 0600 when all the pod's
// containers run as one user, who then owns it, or when the pod has an
// fsGroup, whose group then reads it too (0640, see forFSGroup): a token
// is a credential, for the pod's user and group only.
func tokenFiles(pod *objects.Pod, t *objects.ServiceAccountTokenProjection, def *int32, src Source) (map[string]file, error) {
	ts, ok := src.(TokenSource)
	if !ok {
		return nil, errors.New("failed to fetch token: no service account token issuer on this node")
	}
	exp := objects.DefaultTokenExpirationSeconds
	if t.ExpirationSeconds != nil {
		exp = *t.ExpirationSeconds
	}
	tok, err := ts.ServiceAccountToken(t.Audience, exp)
	if err != nil {
		return nil, err
	}
	f := file{data: []byte(tok), mode: mode(nil, def), uid: fsUser(pod)}
	if sc := pod.Spec.SecurityContext; f.uid != nil || sc != nil && sc.FSGroup != nil {
		f.mode = 0o600
	}
	return map[string]file{t.Path: f}, nil
}

// fsUser is the user every init container and container of pod runs as,
// by its security contexts, or nil when one sets none or two differ (the
// kubelet's FsUserFrom).
func fsUser(pod *objects.Pod) *int64 {
	var uid *int64
	for _, cs := range [][]objects.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			var u *int64
			if sc := pod.Spec.SecurityContext; sc != nil {
				u = sc.RunAsUser
			}
			if sc := cs[i].SecurityContext; sc != nil && sc.RunAsUser != nil {
				u = sc.RunAsUser
			}
			if u == nil || uid != nil && *uid != *u {
				return nil
			}
			uid = u
		}
	}
	return uid
}

func checkHostPath(h *objects.HostPathVolumeSource) error {
	t := objects.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	fi, err := os.Stat(h.Path)
	switch t {
	case objects.HostPathUnset:
		return nil
	case objects.HostPathDirectoryOrCreate:
		if err != nil {
			return os.MkdirAll(h.Path, 0o755)
		}
		if !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", h.Path)
		}
		return nil
	case objects.HostPathFileOrCreate:
		if err != nil {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_RDONLY|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is a directory, not a file", h.Path)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %s does not exist", h.Path)
	}
	ok := true
	switch t {
	case objects.HostPathDirectory:
		ok = fi.IsDir()
	case objects.HostPathFile:
		ok = fi.Mode().IsRegular()
	case objects.HostPathSocket:
		ok = fi.Mode()&os.ModeSocket != 0
	case objects.HostPathCharDev:
		ok = fi.Mode()&os.ModeCharDevice != 0
	case objects.HostPathBlockDev:
		ok = fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0
	}
	if !ok {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", h.Path, t)
	}
	return nil
}

// Teardown unmounts and removes a pod's volume directories. Host paths and
// persistent volumes are left as they are.
func (m *Manager) Teardown(uid string) error {
	if m.Root() == "" {
		return nil
	}
	dir := m.podDir(uid)
	ed := filepath.Join(dir, "volumes", "empty-dir")
	if ents, err := os.ReadDir(ed); err == nil {
		for _, e := range ents {
			unmount(filepath.Join(ed, e.Name()))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove volumes of pod %s: %w", uid, err)
	}
	return nil
}

// Pods returns the uids of the pods that have a directory.
func (m *Manager) Pods() ([]string, error) {
	root := m.Root()
	if root == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(filepath.Join(root, "pods"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// SubPath returns the host path for a mount of a sub-path of a volume,
// creating the directory when it is missing. A sub-path that leaves the
// volume is an error.
func SubPath(volume, sub string) (string, error) {
	if filepath.IsAbs(sub) || slices.Contains(strings.Split(filepath.ToSlash(sub), "/"), "..") {
		return "", fmt.Errorf("subPath %q must be a relative path within the volume", sub)
	}
	p := filepath.Join(volume, sub)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", err
		}
	}
	return p, nil
}

func sizeBytes(q *objects.Quantity) string {
	if q == nil || q.Sign() <= 0 {
		return ""
	}
	return strconv.FormatInt(q.Value(), 10)
}
