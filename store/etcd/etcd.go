// Package etcd is podkit's store on an etcd cluster, for a platform that
// outgrows one machine: the objects live in etcd, replicated across its
// members, and an orchestrator on another machine can take over when the
// one serving them stops, crashes or loses its machine.
//
// The store is the memdb store, serving every read and watch from memory
// as store/memdb does, whose commits are also written to etcd before any
// reader or watcher can see them. One store at a time serves the objects
// under a prefix: Open takes a lock in etcd (a lease-bound key, as
// Kubernetes' controllers elect their leader) and waits while another
// store holds it, so a second orchestrator started on another machine is
// a standby. Once it holds the lock, Open loads the objects, and their
// node agents adopt the containers still running for those pods instead
// of running them again, as on a restart with store/bolt.
//
// Every commit is one etcd transaction that succeeds only while the store
// holds the lock: a store that lost it (its lease expired while its
// process was paused or cut off from etcd, and a standby took over)
// cannot overwrite what the new holder writes. When the lock is lost the
// store closes itself, so that the orchestrator using it stops (its Run
// returns), and Done and Err say why. A process that crashes holds the
// lock until its lease runs out (Config.LockTTL); one that calls Close
// hands it over at once.
//
// Commits follow etcd's limits on a transaction (Config.MaxTxnOps,
// Config.MaxRequestBytes): a group of concurrent Update calls that would
// pass them is split into several commits, one transaction each. An
// Update that alone writes more than a transaction takes (an Apply of
// many objects) is still atomic: its writes go to a redo log under
// PREFIX/redo/ in several transactions, one more marks them done, which
// is when it commits, and then they are written in place; a store that
// stops in between leaves the log to its successor, which finishes or
// drops it before loading. An object larger than etcd takes in a
// request fails its Update with an error wrapping ErrTooLarge. A commit
// whose call failed without an answer is settled by reading back the
// revision it writes: it is neither lost nor made twice.
//
// etcd keeps each object as JSON under PREFIX/objects/KIND/NAMESPACE/NAME
// (the namespace empty for a cluster-scoped kind), and the store's
// revision under PREFIX/revision, so resourceVersions continue where they
// stopped; after Open a watch can resume from the loaded revision on, and
// an older one fails with store.ErrRevisionTooOld. Only the store holding
// the lock writes under the prefix; it does not see changes made there by
// anything else.
//
// The scale run with one etcd member on a 2-core machine, in one
// session (go run ./bench/scale -nodes 1000 -pods 30000 -store
// memdb|bolt|etcd -etcd URL, 2026-11-23): every pod runs after 2.4 s on
// memdb, 5.7 s on bolt and 16.3 s on etcd, and all are gone after 1.2,
// 2.7 and 8.5 s. At the reference scale (-nodes 5000 -pods 150000 -store
// etcd) every pod runs after 144.5 s and all are gone after 50.6 s; etcd,
// a process of its own on the same two cores, takes a share of them, and
// commits wait on its transactions.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// Config says where in etcd a store keeps its objects and how it uses
// etcd. The zero value is ready to use.
type Config struct {
	// Prefix is the key under which the store keeps everything: objects,
	// revision and lock. It must end with "/". Stores with different
	// prefixes are independent. Default "/podkit/".
	Prefix string
	// LockTTL is how long the store's lock outlives a holder that stopped
	// renewing it (a crash, a lost machine): a standby takes over after
	// at most this. It is rounded up to whole seconds, at least 1.
	// Default 10 s.
	LockTTL time.Duration
	// MaxTxnOps and MaxRequestBytes are the etcd server's limits on a
	// transaction (its --max-txn-ops and --max-request-bytes flags).
	// Defaults 128 and 1.5 MiB, etcd's own defaults.
	MaxTxnOps       int
	MaxRequestBytes int
	// CompactInterval is how often the store compacts etcd's history of
	// old values, which etcd keeps until someone compacts it: at each
	// tick, up to the revision etcd had at the tick before, so that a
	// watch (the store's or another client's) less than an interval
	// behind survives, as kube-apiserver compacts its etcd. Compaction is
	// of the whole cluster: set it negative to leave it to the cluster's
	// own --auto-compaction settings. Default 5 minutes.
	CompactInterval time.Duration
}

// Defaults of Config.
const (
	DefaultPrefix          = "/podkit/"
	DefaultLockTTL         = 10 * time.Second
	DefaultMaxTxnOps       = 128
	DefaultMaxRequestBytes = 1536 * 1024
	DefaultCompactInterval = 5 * time.Minute
)

// ErrTooLarge is wrapped by the error of an Update that writes an object
// larger than etcd takes in a request.
var ErrTooLarge = errors.New("an object is larger than etcd takes")

// ErrLockLost is wrapped by the error of a store that lost its lock, and
// of the commits it refused since.
var ErrLockLost = errors.New("the store lost its lock in etcd")

// format is the store's layout, under PREFIX/format.
const format = "podkit/1"

// Store is the store on etcd. It implements store.Store, and has every
// method of memdb.Store.
type Store struct {
	*memdb.Store
	j       *journal
	session *concurrency.Session
	mutex   *concurrency.Mutex

	closing   chan struct{} // closed by Close
	done      chan struct{} // closed when the store stopped serving
	ended     sync.WaitGroup
	once      sync.Once
	closeOnce sync.Once
	mu        sync.Mutex
	err       error
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Lifetime = (*Store)(nil)
)

// Open opens the store under cfg.Prefix in the etcd cluster cli talks to.
// It waits, for as long as ctx lets it, while another store holds the
// prefix's lock; then it loads the objects etcd holds. opts configure the
// memdb store it serves from (scheme, clock, indexes, watch history and
// buffers); every kind etcd holds must be registered in the scheme. cli
// stays the caller's: close it after the store.
func Open(ctx context.Context, cli *clientv3.Client, cfg Config, opts ...memdb.Option) (*Store, error) {
	if err := cfg.complete(); err != nil {
		return nil, fmt.Errorf("etcd.Open: %w", err)
	}
	fail := func(err error) error { return fmt.Errorf("etcd.Open %s: %w", cfg.Prefix, err) }
	ttl := int((cfg.LockTTL + time.Second - 1) / time.Second)
	// The lease is granted with ctx, which may end as soon as Open
	// returns; the session keeps it alive with the client's own context.
	lease, err := cli.Grant(ctx, int64(ttl))
	if err != nil {
		return nil, fail(fmt.Errorf("grant the lock's lease: %w", err))
	}
	session, err := concurrency.NewSession(cli, concurrency.WithLease(lease.ID), concurrency.WithTTL(ttl))
	if err != nil {
		revoke(cli, lease.ID)
		return nil, fail(fmt.Errorf("keep the lock's lease alive: %w", err))
	}
	mutex := concurrency.NewMutex(session, cfg.Prefix+"lock")
	if err := mutex.Lock(ctx); err != nil {
		session.Close()
		return nil, fail(fmt.Errorf("wait for the lock, held by another store: %w", err))
	}
	j := &journal{cli: cli, cfg: cfg, mutex: mutex, enc: map[objects.Object][]byte{}, ctx: ctx, lost: make(chan struct{})}
	s := &Store{j: j, session: session, mutex: mutex, closing: make(chan struct{}), done: make(chan struct{})}
	if err := j.prepare(ctx); err != nil {
		s.release()
		return nil, fail(err)
	}
	s.Store, err = memdb.New(append(opts, memdb.WithJournal(j))...)
	if err != nil {
		s.release()
		return nil, fail(err)
	}
	j.ctx = session.Ctx()
	s.ended.Add(1)
	go s.watchLock()
	if cfg.CompactInterval > 0 {
		s.ended.Add(1)
		go s.compact(cfg.CompactInterval)
	}
	return s, nil
}

func (c *Config) complete() error {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("Config.Prefix %q: must end with /", c.Prefix)
	}
	switch {
	case c.LockTTL == 0:
		c.LockTTL = DefaultLockTTL
	case c.LockTTL < 0:
		return fmt.Errorf("Config.LockTTL %s: must not be negative", c.LockTTL)
	}
	if c.CompactInterval == 0 {
		c.CompactInterval = DefaultCompactInterval
	}
	switch {
	case c.MaxTxnOps == 0:
		c.MaxTxnOps = DefaultMaxTxnOps
	case c.MaxTxnOps < 2: // an object and the revision
		return fmt.Errorf("Config.MaxTxnOps %d: must be at least 2", c.MaxTxnOps)
	}
	switch {
	case c.MaxRequestBytes == 0:
		c.MaxRequestBytes = DefaultMaxRequestBytes
	case c.MaxRequestBytes <= txnOverhead:
		return fmt.Errorf("Config.MaxRequestBytes %d: must be more than %d", c.MaxRequestBytes, txnOverhead)
	}
	return nil
}

// revoke ends a lease Open no longer needs, so that it does not hold
// anything until it expires.
func revoke(cli *clientv3.Client, id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(cli.Ctx(), 5*time.Second)
	defer cancel()
	cli.Revoke(ctx, id) //nolint:errcheck // the lease expires anyway
}

// watchLock closes the store when its lock's lease ends or a commit
// finds the lock taken.
func (s *Store) watchLock() {
	defer s.ended.Done()
	var err error
	select {
	case <-s.closing:
		return
	case <-s.session.Done():
		err = fmt.Errorf("%w: its lease ended (etcd unreachable for longer than the lock's TTL, or the lease was revoked)", ErrLockLost)
	case <-s.j.lost:
		err = fmt.Errorf("%w: another store holds it", ErrLockLost)
	}
	s.end(err)
	s.Store.Close()
}

// compact compacts etcd's history every interval, up to the revision it
// had an interval before, until the store stops serving.
func (s *Store) compact(interval time.Duration) {
	defer s.ended.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	var last int64 // etcd's revision at the tick before
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.j.ctx, interval)
		if last > 0 {
			// Another client may have compacted further: that is no error.
			s.j.cli.Compact(ctx, last) //nolint:errcheck // retried at the next tick
		}
		if resp, err := s.j.cli.Get(ctx, s.j.revisionKey()); err == nil {
			last = resp.Header.Revision
		}
		cancel()
	}
}

// end records why the store stopped serving, the first time.
func (s *Store) end(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	})
}

// Done is closed when the store stops serving: it was closed, or it lost
// its lock. Stop the orchestrator using it then; its Run returns anyway,
// its watches ended.
func (s *Store) Done() <-chan struct{} { return s.done }

// Err is nil while the store serves. Once Done is closed it says why: an
// error wrapping ErrLockLost, or store.ErrClosed after Close.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close closes the store and hands its lock over: a store waiting in
// Open takes over at once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.end(store.ErrClosed)
		close(s.closing)
		err = s.Store.Close()
		s.ended.Wait()
		if rerr := s.release(); !errors.Is(s.Err(), ErrLockLost) {
			err = errors.Join(err, rerr) // a lost lock's lease may be gone
		}
	})
	return err
}

// release gives up the lock and its lease.
func (s *Store) release() error {
	ctx, cancel := context.WithTimeout(s.j.cli.Ctx(), 5*time.Second)
	defer cancel()
	err := s.mutex.Unlock(ctx)
	if errors.Is(err, concurrency.ErrLockReleased) {
		err = nil
	}
	// Revoking the lease deletes the lock's key too, if Unlock failed.
	if cerr := s.session.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("release the lock in etcd: %w", err)
	}
	return nil
}

// Prefix returns the key under which the store keeps its objects.
func (s *Store) Prefix() string { return s.j.cfg.Prefix }
