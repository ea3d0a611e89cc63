package bolt_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/memdbtest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/bolt"
	"github.com/podkit/podkit/store/memdb"
	"github.com/podkit/podkit/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "podkit.db"), memdbtest.Options(o)...)
		require.NoError(t, err)
		return s
	})
}

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T) storetest.Reopen {
		path := filepath.Join(t.TempDir(), "podkit.db")
		return func(o storetest.Options) (store.Store, error) {
			return bolt.Open(path, memdbtest.Options(o)...)
		}
	})
}

func open(t *testing.T, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path)
	require.NoError(t, err)
	return s
}

func write(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), fn))
}

func names(t *testing.T, s store.Store, kind string, opts store.ListOptions) []string {
	t.Helper()
	var out []string
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		objs, err := tx.List(kind, opts)
		for _, o := range objs {
			out = append(out, o.GetObjectMeta().Name)
		}
		return err
	}))
	return out
}

// While a store has the file open, another Open of it fails and says why.
func TestOpenTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "podkit.db")
	s := open(t, path)
	defer s.Close()
	_, err := bolt.Open(path)
	require.ErrorContains(t, err, "another store has the file open")
	require.Equal(t, path, s.Path())
}

// A file that is not a podkit store is refused.
func TestNotAStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "podkit.db")
	require.NoError(t, os.WriteFile(path, []byte("not a database at all, not even close to a page of one"), 0o600))
	_, err := bolt.Open(path)
	require.ErrorContains(t, err, path)
}

// An object the store refuses to load (here a namespaced kind stored
// without a namespace, among many good ones) fails Open, naming it, and
// leaves no goroutine behind.
func TestLoadRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "podkit.db")
	s := open(t, path)
	write(t, s, func(tx store.Tx) error {
		for i := range 3000 {
			if err := tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("cm-%d", i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, s.Close())
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("objects")).Put([]byte("ConfigMap\x00\x00cm-1500x"), []byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm-1500x"}}`))
	}))
	require.NoError(t, db.Close())
	_, err = bolt.Open(path)
	require.ErrorContains(t, err, `ConfigMap "cm-1500x"`)
}

// crashEnv, set to a file's path, makes TestCrash the process that is
// killed: it commits pairs of ConfigMaps to the store in that file from
// several goroutines, and prints the number of each pair once its Update
// has returned.
const crashEnv = "PODKIT_BOLT_CRASH_CHILD"

// A process killed while it commits loses no commit that returned, and
// leaves none half-written: each transaction made two ConfigMaps, and the
// file holds both or neither of each.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "podkit.db")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	committed := map[int]bool{}
	sc := bufio.NewScanner(stdout)
	for len(committed) < 300 && sc.Scan() {
		if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "committed ")); err == nil {
			committed[n] = true
		}
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Len(t, committed, 300, "the process to kill ended early")

	s := open(t, path)
	defer s.Close()
	held := map[string]bool{}
	for _, n := range names(t, s, "ConfigMap", store.ListOptions{Namespace: "default"}) {
		held[n] = true
	}
	for n := range committed {
		require.True(t, held[fmt.Sprintf("a-%d", n)] && held[fmt.Sprintf("b-%d", n)], "commit %d lost", n)
	}
	for name := range held {
		pair, n, _ := strings.Cut(name, "-")
		other := map[string]string{"a": "b", "b": "a"}[pair] + "-" + n
		require.True(t, held[other], "%s stored without %s", name, other)
	}
	require.GreaterOrEqual(t, s.Revision(), int64(len(held)/2), "revision")
}

func crashChild(t *testing.T, path string) {
	s := open(t, path)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for g := range 4 {
		wg.Go(func() {
			for i := g; ; i += 4 {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					return errors.Join(
						tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("a-%d", i)}}),
						tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("b-%d", i)}}),
					)
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Printf("committed %d\n", i)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// Commits of one pod status each: one caller at a time (a sync each), and
// callers in parallel (a sync for each group of them); the same on a
// memdb store, which keeps nothing on disk, for comparison.
func BenchmarkUpdateStatus(b *testing.B) {
	b.Run("bolt", func(b *testing.B) {
		storetest.BenchUpdateStatus(b, func(b *testing.B) store.Store {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "podkit.db"))
			require.NoError(b, err)
			return s
		})
	})
	b.Run("memdb", func(b *testing.B) { storetest.BenchUpdateStatus(b, newMemdb) })
}

func newMemdb(b *testing.B) store.Store {
	s, err := memdb.New()
	require.NoError(b, err)
	return s
}

// Opening a file of 100,000 pods: what a host waits for when it starts
// again on a durable store that large.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "podkit.db")
	s, err := bolt.Open(path)
	require.NoError(b, err)
	const pods, batch = 100_000, 1000
	for i := 0; i < pods; i += batch {
		require.NoError(b, s.Update(b.Context(), func(tx store.Tx) error {
			for j := i; j < i+batch; j++ {
				if err := tx.Create(storetest.BoundPod(fmt.Sprintf("web-%d", j), fmt.Sprintf("n%d", j%1000), "web", "u1")); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(b, s.Close())
	for b.Loop() {
		s, err := bolt.Open(path)
		require.NoError(b, err)
		require.NoError(b, s.Close())
	}
	fi, err := os.Stat(path)
	require.NoError(b, err)
	b.ReportMetric(float64(fi.Size())/(1<<20), "file_MiB")
}
