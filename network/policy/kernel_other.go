//go:build !linux

package policy

import (
	"errors"
	"log/slog"
)

// newKernel is unreachable off Linux, where nft.Available fails.
func newKernel(string, *slog.Logger) kernel { return noKernel{} }

type noKernel struct{}

var errNotLinux = errors.New("policy: nftables exists on Linux only")

func (noKernel) setup() error        { return errNotLinux }
func (noKernel) sync(*Program) error { return errNotLinux }
func (noKernel) teardown() error     { return errNotLinux }
