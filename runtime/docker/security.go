package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/podkit/podkit/runtime"
)

// applySecurity sets the engine's options of a container's
// runtime.Security: its groups (GroupAdd), no_new_privs, and its seccomp,
// AppArmor and SELinux settings as security options, as cri-dockerd sets
// them. The engine applies its default seccomp profile to a container
// that names none, so an Unconfined one says so (Kubernetes' default is
// none). Where the host has no AppArmor (or SELinux) the engine ignores
// those options; a privileged container gets no profile.
func applySecurity(hc *container.HostConfig, cfg *runtime.ContainerConfig) error {
	s := &cfg.Security
	for _, g := range s.SupplementalGroups {
		hc.GroupAdd = append(hc.GroupAdd, strconv.FormatInt(g, 10))
	}
	if s.NoNewPrivileges {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	if !cfg.Privileged {
		switch s.Seccomp.Type {
		case runtime.ProfileUnconfined:
			hc.SecurityOpt = append(hc.SecurityOpt, "seccomp=unconfined")
		case runtime.ProfileLocalhost:
			b, err := runtime.LoadSeccompProfile(s.Seccomp.Localhost)
			if err != nil {
				return fmt.Errorf("docker: container %s: %w", cfg.Name, err)
			}
			hc.SecurityOpt = append(hc.SecurityOpt, "seccomp="+string(b))
		}
		switch s.AppArmor.Type {
		case runtime.ProfileUnconfined:
			hc.SecurityOpt = append(hc.SecurityOpt, "apparmor=unconfined")
		case runtime.ProfileLocalhost:
			if !appArmorEnabled() { // the engine would ignore it
				return fmt.Errorf("docker: container %s: AppArmor profile %q: AppArmor is not enabled on the host", cfg.Name, s.AppArmor.Localhost)
			}
			hc.SecurityOpt = append(hc.SecurityOpt, "apparmor="+s.AppArmor.Localhost)
		}
	}
	if l := s.SELinux; l != nil {
		for _, o := range [...]struct{ k, v string }{{"user", l.User}, {"role", l.Role}, {"type", l.Type}, {"level", l.Level}} {
			if o.v != "" {
				hc.SecurityOpt = append(hc.SecurityOpt, "label="+o.k+":"+o.v)
			}
		}
	}
	return nil
}

// appArmorEnabled reports whether the host's kernel has AppArmor on (the
// engine's host: the backend runs beside it).
func appArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// fixGroups makes container id, created with opts, have the groups the
// image's /etc/group gives its user exactly when it should: unless
// StrictGroups, as Kubernetes' Merge. The engine adds them unless the
// container's user names its group ("uid:gid"): for StrictGroups the
// container is made anew with its user's primary group named, and for a
// user naming its group, anew with those groups added (GroupAdd), when
// the image's files give it any. Nothing else changes.
func (r *Runtime) fixGroups(ctx context.Context, id string, opts client.ContainerCreateOptions, cfg *runtime.ContainerConfig) (string, error) {
	user := opts.Config.User
	_, _, hasGroup := strings.Cut(user, ":")
	if hasGroup == cfg.Security.StrictGroups {
		return id, nil // the engine does as it should
	}
	name, gid, groups, err := r.imageGroups(ctx, id, user)
	if err == nil && len(groups) == 0 {
		return id, nil
	}
	if _, rerr := r.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return "", r.wrap(err, "create container %s: supplemental groups", cfg.Name)
	}
	if hasGroup {
		opts.HostConfig.GroupAdd = append(opts.HostConfig.GroupAdd, groups...)
	} else {
		opts.Config.User = name + ":" + gid
	}
	return r.create(ctx, opts, "container "+cfg.Name)
}

// imageGroups returns, for container id of user ("uid", "name", with or
// without ":group", or "" for the image's), the uid and primary gid of
// the user in the image's /etc/passwd and the groups the image's
// /etc/group gives it: none when the files or the user are missing.
func (r *Runtime) imageGroups(ctx context.Context, id, user string) (uid, gid string, groups []string, err error) {
	if user == "" {
		res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return "", "", nil, err
		}
		if res.Container.Config != nil {
			user = res.Container.Config.User // the image's
		}
	}
	user, _, _ = strings.Cut(user, ":")
	if user == "" {
		user = "0"
	}
	group, err := r.containerFile(ctx, id, "/etc/group")
	if group == nil || err != nil {
		return "", "", nil, err
	}
	passwd, err := r.containerFile(ctx, id, "/etc/passwd")
	if passwd == nil || err != nil {
		return "", "", nil, err
	}
	var uname string
	for _, f := range colonLines(passwd) { // name:password:uid:gid:...
		if len(f) >= 4 && (f[0] == user || f[2] == user) {
			uname, uid, gid = f[0], f[2], f[3]
			break
		}
	}
	if uname == "" {
		return "", "", nil, nil // a uid of no name is in no group; a name of no entry fails to start
	}
	for _, f := range colonLines(group) { // name:password:gid:member,member
		if len(f) >= 4 && strings.Contains(","+f[3]+",", ","+uname+",") {
			groups = append(groups, f[2])
		}
	}
	return uid, gid, groups, nil
}

// containerFile returns the content of a file of a created container,
// nil when it has none.
func (r *Runtime) containerFile(ctx context.Context, id, path string) ([]byte, error) {
	res, err := r.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if cerrdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(tr, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

func colonLines(b []byte) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Split(line, ":"))
		}
	}
	return out
}
