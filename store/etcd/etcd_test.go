package etcd_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/internal/etcdtest"
	"github.com/podkit/podkit/internal/memdbtest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/etcd"
	"github.com/podkit/podkit/store/memdb"
	"github.com/podkit/podkit/store/storetest"
)

// server is the etcd server of the package's tests.
var server *etcdtest.Server

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" { // TestCrash's child: its parent's server
		os.Exit(m.Run())
	}
	code := etcdtest.Main(m, &server)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

var places atomic.Int64

// prefix returns a prefix no other store of the run uses.
func prefix() string { return fmt.Sprintf("/test-%d/", places.Add(1)) }

func client(t *testing.T) *clientv3.Client {
	t.Helper()
	etcdtest.Need(t, server)
	return server.Client(t)
}

func TestConformance(t *testing.T) {
	cli := client(t)
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		s, err := etcd.Open(t.Context(), cli, etcd.Config{Prefix: prefix()}, memdbtest.Options(o)...)
		require.NoError(t, err)
		return s
	})
}

func TestDurable(t *testing.T) {
	cli := client(t)
	storetest.RunDurable(t, func(t *testing.T) storetest.Reopen {
		p := prefix()
		return func(o storetest.Options) (store.Store, error) {
			// A store that holds the lock is closed before the next
			// opens: Open fails at once rather than wait for it.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			return etcd.Open(ctx, cli, etcd.Config{Prefix: p}, memdbtest.Options(o)...)
		}
	})
}

func open(t *testing.T, ctx context.Context, cli *clientv3.Client, cfg etcd.Config) *etcd.Store {
	t.Helper()
	s, err := etcd.Open(ctx, cli, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func configMap(name string) *objects.ConfigMap {
	return &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name}, Data: map[string]string{"k": name}}
}

func create(t *testing.T, s store.Store, objs ...objects.Object) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		for _, o := range objs {
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		return nil
	}))
}

func has(t *testing.T, s store.Store, name string) bool {
	t.Helper()
	var found bool
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.Get("ConfigMap", objects.Key{Namespace: "default", Name: name})
		found = err == nil
		return nil
	}))
	return found
}

func waitDone(t *testing.T, s *etcd.Store, within time.Duration) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(within):
		t.Fatalf("the store still serves after %s", within)
	}
}

// A second store on the same prefix waits in Open while the first holds
// the lock, for as long as its context lets it; when the first closes,
// the waiting one takes over at once (well within the lock's TTL) and
// holds what the first committed.
func TestStandby(t *testing.T) {
	cli := client(t)
	cfg := etcd.Config{Prefix: prefix(), LockTTL: time.Minute}
	s1 := open(t, t.Context(), cli, cfg)
	create(t, s1, configMap("a"))

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := etcd.Open(ctx, cli, cfg)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "wait for the lock, held by another store")

	opened := make(chan *etcd.Store, 1)
	var g errgroup.Group
	g.Go(func() error {
		s2, err := etcd.Open(t.Context(), cli, cfg)
		opened <- s2
		return err
	})
	create(t, s1, configMap("b"))
	select {
	case <-opened:
		t.Fatal("the standby opened while the first store held the lock")
	default:
	}
	start := time.Now()
	require.NoError(t, s1.Close())
	require.ErrorIs(t, s1.Err(), store.ErrClosed)
	require.NoError(t, g.Wait())
	s2 := <-opened
	defer s2.Close()
	require.Less(t, time.Since(start), 10*time.Second, "the standby took over only after the lock's TTL")
	require.True(t, has(t, s2, "a"))
	require.True(t, has(t, s2, "b"))
	require.Equal(t, s1.Revision(), s2.Revision())
	create(t, s2, configMap("c"))
}

// A holder that stops renewing its lock (its process died: here its
// client is closed, which ends the lease's keep-alive without revoking
// it) is taken over once the lease expires. The old store has stopped
// serving, saying why.
func TestTakeoverAfterCrash(t *testing.T) {
	cfg := etcd.Config{Prefix: prefix(), LockTTL: 2 * time.Second}
	crashed := client(t)
	s1, err := etcd.Open(t.Context(), crashed, cfg)
	require.NoError(t, err)
	create(t, s1, configMap("a"))
	rev := s1.Revision()
	require.NoError(t, crashed.Close())
	waitDone(t, s1, 10*time.Second)
	require.ErrorIs(t, s1.Err(), etcd.ErrLockLost)
	require.ErrorIs(t, s1.Update(t.Context(), func(tx store.Tx) error { return tx.Create(configMap("late")) }), store.ErrClosed)
	s1.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s2 := open(t, ctx, client(t), cfg)
	require.True(t, has(t, s2, "a"))
	require.False(t, has(t, s2, "late"))
	require.Equal(t, rev, s2.Revision())
}

// A store whose lock was taken from it commits nothing more: its next
// commit fails, and it stops serving. The new holder's objects stand.
func TestFencing(t *testing.T) {
	cli := client(t)
	cfg := etcd.Config{Prefix: prefix()}
	s1 := open(t, t.Context(), cli, cfg)
	create(t, s1, configMap("a"))
	// The lock's key goes, as if its lease had expired while s1's process
	// was paused; another store takes the lock.
	_, err := cli.Delete(t.Context(), cfg.Prefix+"lock/", clientv3.WithPrefix())
	require.NoError(t, err)
	s2 := open(t, t.Context(), cli, cfg)
	create(t, s2, configMap("b"))

	err = s1.Update(t.Context(), func(tx store.Tx) error { return tx.Create(configMap("stale")) })
	require.ErrorIs(t, err, etcd.ErrLockLost)
	waitDone(t, s1, 10*time.Second)
	require.ErrorIs(t, s1.Err(), etcd.ErrLockLost)

	resp, err := cli.Get(t.Context(), cfg.Prefix+"objects/ConfigMap/default/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	require.NoError(t, err)
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, strings.TrimPrefix(string(kv.Key), cfg.Prefix))
	}
	require.Equal(t, []string{"objects/ConfigMap/default/a", "objects/ConfigMap/default/b"}, keys)
}

// createN creates n ConfigMaps named prefix-0... in one Update.
func createN(t *testing.T, s store.Store, prefix string, n int) error {
	return s.Update(t.Context(), func(tx store.Tx) error {
		for i := range n {
			if err := tx.Create(configMap(fmt.Sprint(prefix, "-", i))); err != nil {
				return err
			}
		}
		return nil
	})
}

// keysUnder lists etcd's keys under prefix+sub, without prefix.
func keysUnder(t *testing.T, cli *clientv3.Client, prefix, sub string) []string {
	t.Helper()
	resp, err := cli.Get(t.Context(), prefix+sub, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	require.NoError(t, err)
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, strings.TrimPrefix(string(kv.Key), prefix))
	}
	return keys
}

// Commits follow the etcd server's limits on a transaction: concurrent
// Updates are split into transactions that fit, and an Update past them
// alone commits whole through the redo log, which is gone afterwards. An
// object larger than a request fails its Update. Against the server's own
// limits, an Update of 300 objects and one of a 1.4 MiB object commit.
func TestTransactionLimits(t *testing.T) {
	cli := client(t)
	cfg := etcd.Config{Prefix: prefix(), MaxTxnOps: 5, MaxRequestBytes: 8 << 10}
	s := open(t, t.Context(), cli, cfg)
	var g errgroup.Group
	for i := range 100 {
		g.Go(func() error {
			return s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(configMap(fmt.Sprint("cm-", i))) })
		})
	}
	require.NoError(t, g.Wait())
	require.NoError(t, createN(t, s, "big", 30))
	require.Empty(t, keysUnder(t, cli, cfg.Prefix, "redo/"))
	large := configMap("large")
	large.Data["blob"] = strings.Repeat("x", 8<<10)
	err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(large) })
	require.ErrorIs(t, err, etcd.ErrTooLarge)
	require.ErrorContains(t, err, "ConfigMap/default/large")
	require.False(t, has(t, s, "large"))
	rev := s.Revision()
	require.NoError(t, s.Close())

	s = open(t, t.Context(), cli, cfg)
	require.Equal(t, rev, s.Revision())
	for i := range 100 {
		require.True(t, has(t, s, fmt.Sprint("cm-", i)))
	}
	for i := range 30 {
		require.True(t, has(t, s, fmt.Sprint("big-", i)))
	}
	require.NoError(t, s.Close())

	// etcd's default limits, which the server runs with.
	p := prefix()
	s = open(t, t.Context(), cli, etcd.Config{Prefix: p})
	require.NoError(t, createN(t, s, "many", 300))
	huge := configMap("huge")
	huge.Data["blob"] = strings.Repeat("x", 1400<<10)
	create(t, s, huge)
	require.Len(t, keysUnder(t, cli, p, "objects/ConfigMap/"), 301)
	require.Empty(t, keysUnder(t, cli, p, "redo/"))
}

// A store that stopped while writing a large commit in place left its
// redo log: the next store finishes a commit marked done before it loads,
// and drops one that was not. (The log is written here as a store would
// leave it.)
func TestRedoRecovery(t *testing.T) {
	cli := client(t)
	cfg := etcd.Config{Prefix: prefix()}
	s := open(t, t.Context(), cli, cfg)
	create(t, s, configMap("old"), configMap("gone"))
	rev := s.Revision()
	require.NoError(t, s.Close())

	obj := func(name string) string {
		return fmt.Sprintf(`{"k":"ConfigMap/default/%s","v":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"namespace":"default","name":%q,"resourceVersion":"%d"},"data":{"k":"new"}}}`, name, name, rev+1)
	}
	put := func(k, v string) {
		_, err := cli.Put(t.Context(), cfg.Prefix+k, v)
		require.NoError(t, err)
	}
	// Revision rev+1 committed (done, and the revision written) in two
	// parts, the first written in place, the second not; rev+2's parts
	// were written but never marked done.
	done := fmt.Sprintf("redo/%020d/", rev+1)
	put(done+"0", "["+obj("old")+"]")
	put(done+"1", "["+obj("new")+`,{"k":"ConfigMap/default/gone"}]`)
	put(done+"done", "2")
	put("revision", fmt.Sprint(rev+1))
	put("objects/ConfigMap/default/old", strings.TrimSuffix(strings.SplitN(obj("old"), `"v":`, 2)[1], "}"))
	put(fmt.Sprintf("redo/%020d/0", rev+2), "["+obj("never")+"]")

	s = open(t, t.Context(), cli, cfg)
	require.Equal(t, rev+1, s.Revision())
	require.True(t, has(t, s, "old"))
	require.True(t, has(t, s, "new"))
	require.False(t, has(t, s, "gone"))
	require.False(t, has(t, s, "never"))
	require.Empty(t, keysUnder(t, cli, cfg.Prefix, "redo/"))
	create(t, s, configMap("after"))
	require.Equal(t, rev+2, s.Revision())
}

// A store cut off from etcd for longer than its lock's TTL (here the
// server is paused) stops serving once its lease has run out, and the
// commit waiting on etcd fails; a new store takes over when etcd is back.
func TestCutOff(t *testing.T) {
	cli := client(t)
	cfg := etcd.Config{Prefix: prefix(), LockTTL: 2 * time.Second}
	s1 := open(t, t.Context(), cli, cfg)
	create(t, s1, configMap("a"))

	require.NoError(t, server.Pause())
	resumed := false
	defer func() {
		if !resumed {
			server.Resume()
		}
	}()
	err := s1.Update(t.Context(), func(tx store.Tx) error { return tx.Create(configMap("cut")) })
	require.ErrorIs(t, err, etcd.ErrLockLost)
	waitDone(t, s1, 10*time.Second)
	require.ErrorIs(t, s1.Err(), etcd.ErrLockLost)
	require.NoError(t, server.Resume())
	resumed = true

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s2 := open(t, ctx, client(t), cfg)
	require.True(t, has(t, s2, "a"))
	create(t, s2, configMap("b"))
}

// Config fields out of range are refused, naming the field.
func TestConfig(t *testing.T) {
	cli := client(t)
	for cfg, want := range map[etcd.Config]string{
		{Prefix: "/podkit"}:     "Config.Prefix",
		{LockTTL: -time.Second}: "Config.LockTTL",
		{MaxTxnOps: 1}:          "Config.MaxTxnOps",
		{MaxRequestBytes: 100}:  "Config.MaxRequestBytes",
	} {
		_, err := etcd.Open(t.Context(), cli, cfg)
		require.ErrorContains(t, err, want)
	}
	s := open(t, t.Context(), cli, etcd.Config{Prefix: prefix()})
	require.True(t, strings.HasPrefix(s.Prefix(), "/test-"))
}

func BenchmarkUpdateStatus(b *testing.B) {
	etcdtest.Need(b, server)
	cli := server.Client(b)
	b.Run("etcd", func(b *testing.B) {
		storetest.BenchUpdateStatus(b, func(b *testing.B) store.Store {
			s, err := etcd.Open(b.Context(), cli, etcd.Config{Prefix: prefix()})
			require.NoError(b, err)
			return s
		})
	})
	b.Run("memdb", func(b *testing.B) {
		storetest.BenchUpdateStatus(b, func(b *testing.B) store.Store {
			s, err := memdb.New()
			require.NoError(b, err)
			return s
		})
	})
}

// Opening a store of 100,000 pods: what a standby waits for, once it has
// the lock, before it serves.
func BenchmarkOpen(b *testing.B) {
	etcdtest.Need(b, server)
	cli := server.Client(b)
	cfg := etcd.Config{Prefix: prefix()}
	s, err := etcd.Open(b.Context(), cli, cfg)
	require.NoError(b, err)
	const pods, batch = 100_000, 100
	for i := 0; i < pods; i += batch {
		require.NoError(b, s.Update(b.Context(), func(tx store.Tx) error {
			for j := i; j < i+batch; j++ {
				p := storetest.BoundPod(fmt.Sprintf("web-%d", j), fmt.Sprintf("n%d", j%1000), "web", "u1")
				if err := tx.Create(p); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(b, s.Close())
	for b.Loop() {
		s, err := etcd.Open(b.Context(), cli, cfg)
		require.NoError(b, err)
		require.NoError(b, s.Close())
	}
	b.StopTimer()
	_, err = cli.Delete(b.Context(), cfg.Prefix, clientv3.WithPrefix())
	require.NoError(b, err)
}

// The store compacts etcd's history, an interval behind: an old revision
// can no longer be read, and the store goes on serving.
func TestCompaction(t *testing.T) {
	cli := client(t)
	s := open(t, t.Context(), cli, etcd.Config{Prefix: prefix(), CompactInterval: 100 * time.Millisecond})
	create(t, s, configMap("a"))
	resp, err := cli.Get(t.Context(), "any")
	require.NoError(t, err)
	old := resp.Header.Revision
	create(t, s, configMap("b"))
	require.Eventually(t, func() bool {
		_, err := cli.Get(t.Context(), "any", clientv3.WithRev(old))
		return err != nil && strings.Contains(err.Error(), "compacted")
	}, 30*time.Second, 50*time.Millisecond)
	create(t, s, configMap("c"))
	require.NoError(t, s.Err())
}

// crashEnv, set to "ENDPOINT PREFIX", makes TestCrash the process that is
// killed: it commits batches of ConfigMaps to the store under PREFIX in
// etcd at ENDPOINT from several goroutines, and prints the number of each
// batch once its Update has returned.
const crashEnv = "PODKIT_ETCD_CRASH_CHILD"

// crashConfig keeps transactions small, so that most batches are past
// them and commit through the redo log, and the lock short.
func crashConfig(prefix string) etcd.Config {
	return etcd.Config{Prefix: prefix, MaxTxnOps: 8, LockTTL: time.Second}
}

// A process killed while it commits, many of its commits in several
// steps, loses no commit that returned and leaves none half-written: each
// Update made a batch of ConfigMaps (2, or 20 past the transaction limit),
// and the next store holds all of a batch or none of it, and no redo log.
func TestCrash(t *testing.T) {
	if spec := os.Getenv(crashEnv); spec != "" {
		crashChild(t, spec)
		return
	}
	etcdtest.Need(t, server)
	p := prefix()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), crashEnv+"="+server.Endpoint+" "+p)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	committed := map[int]bool{}
	sc := bufio.NewScanner(stdout)
	for len(committed) < 200 && sc.Scan() {
		if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "committed ")); err == nil {
			committed[n] = true
		}
	}
	// Kill it in the middle of a commit in several steps: its redo log
	// holds parts.
	cli := client(t)
	for {
		resp, err := cli.Get(ctx, p+"redo/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		require.NoError(t, err)
		if resp.Count > 0 {
			break
		}
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Len(t, committed, 200, "the process to kill ended early: %s", stderr.String())
	t.Logf("the killed process left its redo log: %v", keysUnder(t, cli, p, "redo/"))
	s := open(t, ctx, client(t), crashConfig(p))
	var names []string
	require.NoError(t, s.View(ctx, func(tx store.ReadTx) error {
		objs, err := tx.List("ConfigMap", store.ListOptions{Namespace: "default"})
		for _, o := range objs {
			names = append(names, o.GetObjectMeta().Name)
		}
		return err
	}))
	held := map[int]int{}
	for _, name := range names {
		n, err := strconv.Atoi(strings.Split(name, "-")[1])
		require.NoError(t, err, name)
		held[n]++
	}
	for n := range committed {
		require.NotZero(t, held[n], "commit %d lost", n)
	}
	for n, count := range held {
		require.Equal(t, batch(n), count, "batch %d half-written", n)
	}
	require.Empty(t, keysUnder(t, client(t), p, "redo/"))
}

// batch is the size of the batch numbered n.
func batch(n int) int {
	if n%2 == 0 {
		return 20
	}
	return 2
}

func crashChild(t *testing.T, spec string) {
	endpoint, p, _ := strings.Cut(spec, " ")
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	s, err := etcd.Open(t.Context(), cli, crashConfig(p)) // never closed: the test kills this process
	require.NoError(t, err)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for g := range 4 {
		wg.Go(func() {
			for n := g; ; n += 4 {
				if err := createN(t, s, fmt.Sprintf("c-%d", n), batch(n)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Printf("committed %d\n", n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
