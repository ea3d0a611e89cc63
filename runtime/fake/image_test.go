package fake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// An image's user describes the image wherever it comes from: present
// from the start, pulled, or pulled again after it was removed; SetImageUser
// changes it and "" takes it away.
func TestImageUser(t *testing.T) {
	ctx := context.Background()
	const named, pulled, plain = "registry.local/named:1", "registry.local/pulled:1", "registry.local/plain:1"
	rt, err := fake.New(fake.WithImages(named, plain), fake.WithImageUser(named, "nginx"), fake.WithImageUser(pulled, "1000:1000"))
	if err != nil {
		t.Fatal(err)
	}
	user := func(ref string) string {
		t.Helper()
		u, err := rt.ImageUser(ctx, ref)
		if err != nil {
			t.Fatalf("ImageUser(%s): %v", ref, err)
		}
		return u
	}
	if u := user(named); u != "nginx" {
		t.Errorf("ImageUser(%s) = %q, want nginx", named, u)
	}
	if u := user(plain); u != "" {
		t.Errorf("ImageUser(%s) = %q, want none", plain, u)
	}
	if _, err := rt.ImageUser(ctx, pulled); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ImageUser of an image not pulled yet: %v, want ErrNotFound", err)
	}
	if err := rt.PullImage(ctx, pulled, runtime.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if u := user(pulled); u != "1000:1000" {
		t.Errorf("ImageUser(%s) after its pull = %q, want 1000:1000", pulled, u)
	}
	rt.SetImageUser(named, "1000")
	rt.RemoveImage(named)
	if _, err := rt.ImageUser(ctx, named); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ImageUser of a removed image: %v, want ErrNotFound", err)
	}
	if err := rt.PullImage(ctx, named, runtime.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if u := user(named); u != "1000" {
		t.Errorf("ImageUser(%s) pulled again = %q, want the 1000 SetImageUser gave it", named, u)
	}
	rt.SetImageUser(named, "")
	if u := user(named); u != "" {
		t.Errorf("ImageUser(%s) after SetImageUser \"\" = %q, want none", named, u)
	}
	rt.SetUnavailable(true)
	if _, err := rt.ImageUser(ctx, named); !errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("ImageUser of an unavailable runtime: %v, want ErrUnavailable", err)
	}
	if _, err := fake.New(fake.WithImageUser("", "1000")); err == nil {
		t.Error("WithImageUser of an empty reference: no error")
	}
}
