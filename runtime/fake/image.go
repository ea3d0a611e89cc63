package fake

import (
	"context"
	"errors"
	"fmt"

	"github.com/podkit/podkit/runtime"
)

var _ runtime.ImageConfigReader = (*Runtime)(nil)

// WithImageUser gives image ref the user user in its configuration (a
// Dockerfile's USER: "1000", "1000:1000", "nginx"; "" for none, which
// is root). It describes the image wherever it comes from: present from
// the start (WithImages) or pulled later, and again after RemoveImage.
func WithImageUser(ref, user string) Option {
	return func(r *Runtime) error {
		if ref == "" {
			return errors.New("fake.WithImageUser: empty image reference")
		}
		r.setImageUser(ref, user)
		return nil
	}
}

// SetImageUser changes the user of image ref's configuration, as
// WithImageUser sets it, as if the image had been rebuilt and pulled
// again: a test's way to make a container a node agent refused for
// runAsNonRoot acceptable, or the other way round.
func (r *Runtime) SetImageUser(ref, user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setImageUser(ref, user)
}

// setImageUser records the user of ref. r.mu is held, or r is being made.
func (r *Runtime) setImageUser(ref, user string) {
	if r.imageUsers == nil {
		r.imageUsers = map[string]string{}
	}
	if user == "" {
		delete(r.imageUsers, ref)
		return
	}
	r.imageUsers[ref] = user
}

// ImageUser implements runtime.ImageConfigReader: the user WithImageUser
// or SetImageUser gave the image, "" when neither did.
func (r *Runtime) ImageUser(ctx context.Context, ref string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return "", err
	}
	if r.images[ref] == nil {
		return "", fmt.Errorf("fake: image %s: %w", ref, runtime.ErrNotFound)
	}
	return r.imageUsers[ref], nil
}
