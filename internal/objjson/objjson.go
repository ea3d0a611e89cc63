// Package objjson decodes the objects a durable store's journal keeps as
// JSON under keys naming their kind, namespace and name (store/bolt,
// store/etcd). Decoding is most of the time a large journal takes to load,
// so DecodeAll decodes on every CPU.
package objjson

import (
	"context"
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// SplitKey parses a journal's key into the kind, namespace and name it
// names; ok is false when it names none.
type SplitKey func(k []byte) (kind string, key objects.Key, ok bool)

// entry is a key and its value, as each handed them.
type entry struct{ k, v []byte }

// batch is how many entries go to a decoder at a time.
const batch = 256

// DecodeAll decodes the entries each hands to emit, on every CPU, and
// calls load with each object from the calling goroutine, in any order.
// The bytes handed to emit must stay valid until DecodeAll returns. Once
// a decode or load fails, emit returns an error, which each should return;
// DecodeAll returns the first error, with every goroutine it started
// returned.
func DecodeAll(scheme *objects.Scheme, split SplitKey, each func(emit func(k, v []byte) error) error, load func(objects.Object) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	raw := make(chan []entry, goruntime.GOMAXPROCS(0))
	decoded := make(chan []objects.Object, goruntime.GOMAXPROCS(0))
	g.Go(func() error {
		defer close(raw)
		b := make([]entry, 0, batch)
		send := func() error {
			select {
			case raw <- b:
				b = make([]entry, 0, batch)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := each(func(k, v []byte) error {
			if b = append(b, entry{k, v}); len(b) == batch {
				return send()
			}
			return nil
		})
		if err == nil && len(b) > 0 {
			err = send()
		}
		return err
	})
	var decoders sync.WaitGroup
	for range goruntime.GOMAXPROCS(0) {
		decoders.Add(1)
		g.Go(func() error {
			defer decoders.Done()
			for b := range raw {
				objs := make([]objects.Object, len(b))
				for i, e := range b {
					obj, err := Decode(scheme, split, e.k, e.v)
					if err != nil {
						return err
					}
					objs[i] = obj
				}
				select {
				case decoded <- objs:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	go func() {
		decoders.Wait()
		close(decoded)
	}()
	var loadErr error
	for objs := range decoded {
		for _, obj := range objs {
			if loadErr == nil {
				if loadErr = load(obj); loadErr != nil {
					cancel() // stop the decoders; the loop drains what they sent
				}
			}
		}
	}
	if err := g.Wait(); loadErr == nil {
		return err
	}
	return loadErr
}

// Decode makes the object stored under key k from its JSON v. The kind
// must be registered in scheme (else the error wraps
// store.ErrUnknownKind), and the object must name the key it is under.
func Decode(scheme *objects.Scheme, split SplitKey, k, v []byte) (objects.Object, error) {
	kind, key, ok := split(k)
	if !ok {
		return nil, fmt.Errorf("key %q: not kind, namespace and name", k)
	}
	info := scheme.Lookup(kind)
	if info == nil {
		return nil, fmt.Errorf("%s %s: kind %q is not registered in the store's scheme: %w", kind, key, kind, store.ErrUnknownKind)
	}
	obj := info.New()
	if err := json.Unmarshal(v, obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, key, err)
	}
	if m := obj.GetObjectMeta(); m.Namespace != key.Namespace || m.Name != key.Name {
		return nil, fmt.Errorf("%s %s: the object stored there is %s", kind, key, m.Key())
	}
	return obj, nil
}
