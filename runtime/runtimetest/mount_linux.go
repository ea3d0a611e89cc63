package runtimetest

import (
	"errors"
	"syscall"
	"testing"
)

// mountTmpfs mounts a small tmpfs on dir, shared (a peer group of its
// own) or private.
func mountTmpfs(dir string, shared bool) error {
	if err := syscall.Mount("podkit-runtimetest", dir, "tmpfs", 0, "size=1m"); err != nil {
		return err
	}
	flag := uintptr(syscall.MS_PRIVATE)
	if shared {
		flag = syscall.MS_SHARED
	}
	if err := syscall.Mount("", dir, "", flag, ""); err != nil {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		return err
	}
	return nil
}

// unmount unmounts dir, which mountTmpfs mounted.
func unmount(t *testing.T, dir string) {
	if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
		t.Errorf("unmount %s: %v", dir, err)
	}
}
