package storecore

import (
	"fmt"

	"github.com/podkit/podkit/store"
)

// statusError carries a message worded as Kubernetes words it and the
// sentinel it stands for.
type statusError struct {
	msg      string
	sentinel error
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.sentinel }

// NotFound: `pods "web-1" not found`.
func (k *Kind) NotFound(name string) error {
	return &statusError{fmt.Sprintf("%s %q not found", k.Resource, name), store.ErrNotFound}
}

// AlreadyExists: `pods "web-1" already exists`.
func (k *Kind) AlreadyExists(name string) error {
	return &statusError{fmt.Sprintf("%s %q already exists", k.Resource, name), store.ErrAlreadyExists}
}

// Conflict: `Operation cannot be fulfilled on pods "web-1": the object has
// been modified; please apply your changes to the latest version and try
// again`.
func (k *Kind) Conflict(name string) error {
	return k.conflict(name, store.ErrConflict.Error())
}

func (k *Kind) conflict(name, detail string) error {
	return &statusError{fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", k.Resource, name, detail), store.ErrConflict}
}
