//go:build !linux

package nft

import (
	"context"
	"errors"
	"log/slog"

	"github.com/podkit/podkit/network/proxy"
)

var errNotLinux = errors.New("nft: nftables exists on Linux only")

// Option configures a DataPlane.
type Option func(*struct{}) error

// WithTableName is accepted and ignored off Linux.
func WithTableName(string) Option { return func(*struct{}) error { return nil } }

// WithServiceCIDR is accepted and ignored off Linux.
func WithServiceCIDR(string) Option { return func(*struct{}) error { return nil } }

// WithLogger is accepted and ignored off Linux.
func WithLogger(*slog.Logger) Option { return func(*struct{}) error { return nil } }

// DataPlane is unavailable off Linux.
type DataPlane struct{}

// New fails off Linux.
func New(...Option) (*DataPlane, error) { return nil, errNotLinux }

// Available fails off Linux.
func Available() error { return errNotLinux }

// Run fails off Linux.
func (*DataPlane) Run(context.Context) error { return errNotLinux }

// Sync fails off Linux.
func (*DataPlane) Sync(context.Context, []proxy.ServicePort) error { return errNotLinux }
