package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/podkit/podkit/runtime"
)

var _ runtime.ImageConfigReader = (*Runtime)(nil)

// ImagePresent implements runtime.ImageService.
func (r *Runtime) ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, err := r.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	case cerrdefs.IsInvalidArgument(err):
		return false, nil // a reference the engine cannot parse names no image it has
	}
	return false, r.wrap(err, "inspect image %s", ref)
}

// ImageUser implements runtime.ImageConfigReader: the User of the image's
// config, as the engine inspects it.
func (r *Runtime) ImageUser(ctx context.Context, ref string) (string, error) {
	res, err := r.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
	case cerrdefs.IsInvalidArgument(err):
		// A reference the engine cannot parse names no image it has.
		return "", fmt.Errorf("docker: inspect image %s: %w: %w", ref, runtime.ErrNotFound, err)
	default:
		return "", r.wrap(err, "inspect image %s", ref)
	}
	if res.Config == nil {
		return "", nil
	}
	return res.Config.User, nil
}

// PullImage implements runtime.ImageService: the engine pulls ref, and each
// progress message it sends is reported to opts.Progress, summed over the
// image's layers. A registry that cannot be reached, an unknown image or
// refused credentials give an error wrapping runtime.ErrImagePull; a daemon
// that cannot be reached, runtime.ErrUnavailable.
func (r *Runtime) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	var popts client.ImagePullOptions
	if a := opts.Auth; a != nil {
		enc, err := authconfig.Encode(registry.AuthConfig{
			Username: a.Username, Password: a.Password,
			ServerAddress: a.ServerAddress, IdentityToken: a.IdentityToken,
		})
		if err != nil {
			return fmt.Errorf("docker: pull %s: credentials: %w: %w", ref, runtime.ErrImagePull, err)
		}
		popts.RegistryAuth = enc
	}
	resp, err := r.cli.ImagePull(ctx, ref, popts)
	if err != nil {
		return r.pullError(ref, err)
	}
	layers := map[string][2]int64{} // layer id → current, total
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return r.pullError(ref, err)
		}
		if msg.Error != nil {
			return fmt.Errorf("docker: pull %s: %w: %s", ref, runtime.ErrImagePull, msg.Error.Message)
		}
		if opts.Progress == nil {
			continue
		}
		p := runtime.PullProgress{Status: msg.Status}
		if msg.ID != "" && msg.Progress != nil && msg.Progress.Total > 0 {
			layers[msg.ID] = [2]int64{msg.Progress.Current, msg.Progress.Total}
		}
		if msg.ID != "" && (msg.Status == "Pull complete" || msg.Status == "Already exists") {
			if l, ok := layers[msg.ID]; ok {
				layers[msg.ID] = [2]int64{l[1], l[1]}
			}
		}
		for _, l := range layers {
			p.Current += l[0]
			p.Total += l[1]
		}
		if msg.ID != "" && !strings.HasPrefix(msg.Status, "Pulling from") {
			p.Status = msg.ID + ": " + msg.Status
		}
		opts.Progress(p)
	}
	return nil
}

func (r *Runtime) pullError(ref string, err error) error {
	if client.IsErrConnectionFailed(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return r.wrap(err, "pull %s", ref)
	}
	return fmt.Errorf("docker: pull %s: %w: %w", ref, runtime.ErrImagePull, err)
}

// LoadImage reads an image tarball (the format of "docker save", which
// internal/scratchimage writes) and stores its images in the engine, as
// "docker load" does.
func (r *Runtime) LoadImage(ctx context.Context, tarball io.Reader) error {
	res, err := r.cli.ImageLoad(ctx, tarball, client.ImageLoadWithQuiet(true))
	if err != nil {
		return r.wrap(err, "load image")
	}
	defer res.Close()
	dec := json.NewDecoder(res)
	for {
		var msg struct {
			Stream      string `json:"stream"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return r.wrap(err, "load image")
		}
		if msg.ErrorDetail != nil {
			return fmt.Errorf("docker: load image: %s", msg.ErrorDetail.Message)
		}
	}
}
