package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	dockerconfig "github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/podkit/podkit/runtime"
)

// normalize returns the full name containerd stores ref under
// ("nginx" is "docker.io/library/nginx:latest").
func normalize(ref string) (string, error) {
	n, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("containerd: image reference %q: %w", ref, err)
	}
	return n.String(), nil
}

// image returns the image ref, unpacked on the runtime's snapshotter, or an
// error wrapping ErrNotFound when it is absent.
func (r *Runtime) image(ctx context.Context, ref string) (client.Image, error) {
	name, err := normalize(ref)
	if err != nil {
		return nil, err
	}
	img, err := r.cli.GetImage(ctx, name)
	if err != nil {
		return nil, r.wrap(err, "image %s", ref)
	}
	ok, err := img.IsUnpacked(ctx, r.cfg.snapshotter)
	if err != nil {
		return nil, r.wrap(err, "image %s", ref)
	}
	if !ok {
		lctx, done, err := r.withLease(ctx)
		if err != nil {
			return nil, err
		}
		defer done()
		if err := img.Unpack(lctx, r.cfg.snapshotter); err != nil {
			return nil, r.wrap(err, "unpacking image %s", ref)
		}
	}
	return img, nil
}

var _ runtime.ImageConfigReader = (*Runtime)(nil)

// ImagePresent reports whether ref is in the runtime's namespace.
func (r *Runtime) ImagePresent(ctx context.Context, ref string) (bool, error) {
	name, err := normalize(ref)
	if err != nil {
		return false, err
	}
	_, err = r.cli.ImageService().Get(r.ns(ctx), name)
	if err == nil {
		return true, nil
	}
	if err = r.wrap(err, "image %s", ref); errors.Is(err, runtime.ErrNotFound) {
		return false, nil
	}
	return false, err
}

// ImageUser implements runtime.ImageConfigReader: the User of the image's
// OCI configuration, for the runtime's platform.
func (r *Runtime) ImageUser(ctx context.Context, ref string) (string, error) {
	ctx = r.ns(ctx)
	name, err := normalize(ref)
	if err != nil {
		// A reference that does not parse names no image.
		return "", fmt.Errorf("%w: %w", runtime.ErrNotFound, err)
	}
	img, err := r.cli.GetImage(ctx, name)
	if err != nil {
		return "", r.wrap(err, "image %s", ref)
	}
	spec, err := img.Spec(ctx)
	if err != nil {
		return "", r.wrap(err, "image %s: config", ref)
	}
	return spec.Config.User, nil
}

// PullImage pulls ref from its registry and unpacks it. Failures wrap
// runtime.ErrImagePull (and ErrUnavailable when containerd itself does not
// answer).
func (r *Runtime) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	ctx = r.ns(ctx)
	name, err := normalize(ref)
	if err != nil {
		return fmt.Errorf("%w: %w", runtime.ErrImagePull, err)
	}
	hostOpts := dockerconfig.HostOptions{}
	if a := opts.Auth; a != nil {
		hostOpts.Credentials = func(host string) (string, string, error) {
			if a.ServerAddress != "" && !sameRegistry(a.ServerAddress, host) {
				return "", "", nil
			}
			if a.IdentityToken != "" {
				return "", a.IdentityToken, nil
			}
			return a.Username, a.Password, nil
		}
	}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: dockerconfig.ConfigureHosts(ctx, hostOpts)})
	ropts := []client.RemoteOpt{client.WithPullUnpack, client.WithPullSnapshotter(r.cfg.snapshotter), client.WithResolver(resolver)}
	if opts.Progress != nil {
		ropts = append(ropts, client.WithImageHandlerWrapper(progressHandler(opts.Progress)))
	}
	lctx, done, err := r.withLease(ctx)
	if err != nil {
		return err
	}
	defer done()
	if _, err := r.cli.Pull(lctx, name, ropts...); err != nil {
		if _, verr := r.cli.Version(ctx); verr != nil {
			return r.wrap(verr, "pulling %s", ref)
		}
		return fmt.Errorf("containerd: pulling %s: %w: %w", ref, runtime.ErrImagePull, err)
	}
	if opts.Progress != nil {
		opts.Progress(runtime.PullProgress{Status: "Pulled " + ref})
	}
	return nil
}

func sameRegistry(server, host string) bool {
	for _, p := range []string{"https://", "http://"} {
		if len(server) > len(p) && server[:len(p)] == p {
			server = server[len(p):]
		}
	}
	if i := strings.IndexByte(server, '/'); i >= 0 {
		server = server[:i]
	}
	if server == "index.docker.io" || server == "docker.io" {
		server = "registry-1.docker.io"
	}
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	return server == host
}

// LoadImage imports a docker-archive ("docker save") or OCI layout tarball
// into the runtime's namespace and unpacks its images on the snapshotter:
// how images reach a machine without a registry (internal/testimage).
func (r *Runtime) LoadImage(ctx context.Context, tarball io.Reader) error {
	ctx, done, err := r.withLease(r.ns(ctx))
	if err != nil {
		return err
	}
	defer done()
	imgs, err := r.cli.Import(ctx, tarball)
	if err != nil {
		return r.wrap(err, "importing images")
	}
	for _, m := range imgs {
		img := client.NewImage(r.cli, m)
		if err := img.Unpack(ctx, r.cfg.snapshotter); err != nil {
			return r.wrap(err, "unpacking %s", m.Name)
		}
	}
	return nil
}

// progressHandler wraps a pull's fetch handlers to report progress as the
// Docker backend does: Current is the bytes of the blobs fetched so far and
// Total the size of every blob known so far, which grows as manifests name
// their children. Blobs are fetched concurrently, so reports are counted
// under a lock and may arrive out of order.
func progressHandler(report func(runtime.PullProgress)) func(images.Handler) images.Handler {
	var (
		mu             sync.Mutex
		current, total int64
	)
	add := func(status string, cur, tot int64) runtime.PullProgress {
		mu.Lock()
		defer mu.Unlock()
		current += cur
		total += tot
		return runtime.PullProgress{Status: status, Current: current, Total: total}
	}
	return func(h images.Handler) images.Handler {
		return images.HandlerFunc(func(ctx context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			report(add("Fetching "+d.Digest.String(), 0, d.Size))
			children, err := h.Handle(ctx, d)
			if err == nil {
				report(add("Fetched "+d.Digest.String(), d.Size, 0))
			}
			return children, err
		})
	}
}
