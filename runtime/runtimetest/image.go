package runtimetest

import (
	"errors"

	"github.com/podkit/podkit/runtime"
)

// testImageUser: ImageUser reports the user an image's configuration
// names as it is written there, "" for Image, which names none, and
// ErrNotFound for an image not on the node. It needs Config.UserImage.
func testImageUser(h *harness) {
	r := capability[runtime.ImageConfigReader](h, "runtime.ImageConfigReader")
	if h.cfg.UserImage == "" {
		h.t.Skip("runtimetest.Config.UserImage is not set")
	}
	if got, err := r.ImageUser(h.ctx, h.cfg.UserImage); err != nil || got != h.cfg.UserImageUser {
		h.t.Errorf("ImageUser(%s) = %q, %v; want %q", h.cfg.UserImage, got, err, h.cfg.UserImageUser)
	}
	if got, err := r.ImageUser(h.ctx, h.cfg.Image); err != nil || got != "" {
		h.t.Errorf("ImageUser(%s), an image that names no user = %q, %v; want \"\"", h.cfg.Image, got, err)
	}
	if got, err := r.ImageUser(h.ctx, h.cfg.AbsentImage); !errors.Is(err, runtime.ErrNotFound) {
		h.t.Errorf("ImageUser(%s), an absent image = %q, %v; want an error wrapping ErrNotFound", h.cfg.AbsentImage, got, err)
	}
}
