//go:build !linux

package runtimetest

import (
	"errors"
	"testing"
)

func mountTmpfs(string, bool) error { return errors.New("mounts are made on Linux only") }

func unmount(*testing.T, string) {}
