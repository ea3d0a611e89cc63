//go:build !linux

package volumes

import "github.com/podkit/podkit/objects"

func mountTmpfs(string, *objects.Quantity) {}

func unmount(string) {}
