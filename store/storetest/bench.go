package storetest

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// BenchUpdateStatus measures the commits a node agent makes, on stores
// newStore makes: each iteration writes the status of one of 1,000 pods
// in its own Update, one caller at a time ("serial"), or 32 callers per
// CPU at once ("parallel"), which a store may group into fewer commits.
// Compare a backend with store/memdb on the same machine.
func BenchUpdateStatus(b *testing.B, newStore func(b *testing.B) store.Store) {
	for _, parallel := range []bool{false, true} {
		b.Run(map[bool]string{false: "serial", true: "parallel"}[parallel], func(b *testing.B) {
			s := newStore(b)
			defer s.Close()
			benchUpdateStatus(b, s, parallel)
		})
	}
}

func benchUpdateStatus(b *testing.B, s store.Store, parallel bool) {
	const pods = 1000
	const batch = 100 // within etcd's default limit on a transaction
	for i := 0; i < pods; i += batch {
		require.NoError(b, s.Update(b.Context(), func(tx store.Tx) error {
			for j := i; j < i+batch; j++ {
				if err := tx.Create(BoundPod(fmt.Sprintf("web-%d", j), "n1", "web", "u1")); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	var next atomic.Int64
	write := func() {
		n := next.Add(1)
		err := s.Update(b.Context(), func(tx store.Tx) error {
			p, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: fmt.Sprintf("web-%d", n%pods)})
			if err != nil {
				return err
			}
			p.(*objects.Pod).Status.Message = strconv.FormatInt(n, 10)
			return tx.UpdateStatus(p)
		})
		if err != nil {
			b.Error(err)
		}
	}
	b.ResetTimer()
	if parallel {
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				write()
			}
		})
		return
	}
	for b.Loop() {
		write()
	}
}
