// Package memdb is podkit's default store: every object in memory, in
// github.com/hashicorp/go-memdb tables, whose immutable radix-tree
// snapshots let reads run beside writes without locks.
//
// Objects live in one table keyed by kind, namespace and name, so a kind's
// or a namespace's objects are one prefix scan. A second table has a row
// per label (kind, key=value, namespace) and per indexed field value, each
// holding the sorted names of the objects that have it, so that a List
// whose selector requires an exact label, or that names an indexed field,
// reads only the objects that match. Objects are copied on the way in and
// on the way out; a stored object is never modified, so watch events share
// it. Update calls that wait for the write lock together commit together,
// each at its own revision (see Store.Update).
//
// The store lives in memory and is gone with its process unless it has a
// Journal (WithJournal), which takes each commit before anyone sees it and
// hands back what it holds when the store is made: store/bolt and
// store/etcd are two.
package memdb

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/hashicorp/go-memdb"
	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/internal/watchcache"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const (
	// DefaultHistory is the number of events kept for resuming watches.
	DefaultHistory = 10000
	// DefaultWatchBuffer is a watcher's queue length unless the watch or
	// WithWatchBuffer says otherwise.
	DefaultWatchBuffer = 1024
)

// Option configures a Store.
type Option func(*config) error

type config struct {
	scheme  *objects.Scheme
	clock   clockwork.Clock
	indexes []store.FieldIndex
	history int
	buffer  int
	journal Journal
}

// WithScheme sets the kinds the store holds (default objects.NewScheme()).
// Register every kind before passing the scheme.
func WithScheme(s *objects.Scheme) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("WithScheme: scheme is nil")
		}
		c.scheme = s
		return nil
	}
}

// WithClock sets the clock of creationTimestamp and deletionTimestamp
// (default the real clock).
func WithClock(clk clockwork.Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return errors.New("WithClock: clock is nil")
		}
		c.clock = clk
		return nil
	}
}

// WithIndex adds a field index to store.DefaultIndexes, for List's Fields
// and watch filters. Kind "" indexes every kind.
func WithIndex(ix store.FieldIndex) Option {
	return func(c *config) error {
		c.indexes = append(c.indexes, ix)
		return nil
	}
}

// WithHistory sets the number of events kept for watches that resume from
// a past revision (default DefaultHistory). A watch from a revision whose
// events are gone fails with store.ErrRevisionTooOld.
func WithHistory(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("WithHistory: %d events: must be at least 0", n)
		}
		c.history = n
		return nil
	}
}

// WithWatchBuffer sets a watcher's queue length when the watch asks for
// none (default DefaultWatchBuffer). A watcher whose queue fills is ended
// with store.ErrFellBehind.
func WithWatchBuffer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("WithWatchBuffer: %d events: must be at least 1", n)
		}
		c.buffer = n
		return nil
	}
}

// Store is the go-memdb store. It implements store.Store.
type Store struct {
	cfg   config
	kinds *storecore.Kinds
	hub   *watchcache.Hub

	// db is the handle writes go through. It is a snapshot of the database
	// memdb.NewMemDB made: a snapshot does not track radix nodes for memdb's
	// own watch channels, which podkit does not use, so commits are cheaper.
	db *memdb.MemDB
	// state is the last commit: a read-only view of it and its revision,
	// swapped together so that View sees a revision and the data of that
	// revision.
	state atomic.Pointer[state]
	// write is held by the one group running, and while its commits are
	// published, so that watchers see commits in order.
	write  chan struct{}
	closed atomic.Bool

	// Updates waiting for their group (see Update).
	mu      sync.Mutex
	queue   []*update
	leading bool

	// Maps of the last group, cleared, for the next one: most groups
	// write about as many objects as the one before.
	spare *groupMaps

	// Random names and uids; used only holding write.
	src *rand.ChaCha8
	rnd *rand.Rand

	// limits are the journal's, when it is a LimitedJournal.
	limits *limits
}

type state struct {
	db  *memdb.MemDB
	rev int64
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New(opts ...Option) (*Store, error) {
	cfg := config{clock: clockwork.NewRealClock(), indexes: store.DefaultIndexes(), history: DefaultHistory, buffer: DefaultWatchBuffer}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("memdb.New: %w", err)
		}
	}
	if cfg.scheme == nil {
		cfg.scheme = objects.NewScheme()
	}
	kinds, err := storecore.NewKinds(cfg.scheme, cfg.indexes)
	if err != nil {
		return nil, fmt.Errorf("memdb.New: %w", err)
	}
	db, err := memdb.NewMemDB(&memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		objectsTable: {Name: objectsTable, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: objectIndexer{}},
		}},
		attrsTable: {Name: attrsTable, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: rowIndexer{}},
		}},
	}})
	if err != nil {
		return nil, fmt.Errorf("memdb.New: %w", err)
	}
	var seed [32]byte
	crand.Read(seed[:])
	src := rand.NewChaCha8(seed)
	s := &Store{
		cfg:   cfg,
		kinds: kinds,
		db:    db.Snapshot(),
		write: make(chan struct{}, 1),
		src:   src,
		rnd:   rand.New(src),
	}
	rev := int64(initialRevision)
	s.state.Store(&state{db: s.db.Snapshot(), rev: rev})
	if lj, ok := cfg.journal.(LimitedJournal); ok {
		w, b := lj.Limits()
		if w < 1 || b < 1 {
			return nil, fmt.Errorf("memdb.New: the journal's limits (%d objects, %d bytes) must be positive", w, b)
		}
		s.limits = &limits{j: lj, maxWrites: w, maxBytes: b}
	}
	if cfg.journal != nil {
		if rev, err = s.load(); err != nil {
			return nil, fmt.Errorf("memdb.New: %w", err)
		}
		s.state.Store(&state{db: s.db.Snapshot(), rev: rev})
	}
	s.hub = watchcache.New(watchcache.Options{History: cfg.history, Buffer: cfg.buffer, Revision: rev})
	return s, nil
}

// initialRevision is the revision of an empty store. It is not 0, which a
// Watch reads as "from now", so that a list of an empty store followed by a
// watch from the list's revision misses no commit.
const initialRevision = 1

// Scheme implements store.Store.
func (s *Store) Scheme() *objects.Scheme { return s.cfg.scheme }

// Revision implements store.Store.
func (s *Store) Revision() int64 { return s.state.Load().rev }

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	st := s.state.Load()
	return fn(&readTx{s: s, txn: st.db.Txn(false), rev: st.rev})
}

// Update implements store.Store.
//
// Transactions that wait for the write lock at the same time commit
// together (a group commit): the first caller becomes the leader and runs
// every function queued meanwhile, one after the other, in one memdb
// transaction, each at its own revision and with its own watch events.
// Copying the radix tree's paths, the costly part of a commit, is then paid
// once for the group rather than once per call: a thousand node agents
// and controllers writing at once share their copies of the upper nodes.
// A function that fails (or panics) leaves no trace in the group: the
// writes of those before it are replayed on a fresh memdb transaction.
// When the group is done the leader hands the lead to the next caller
// queued, so that no caller runs more than one group.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	u := &update{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, u)
	lead := !s.leading
	s.leading = true
	s.mu.Unlock()
	if !lead {
		select {
		case <-u.wake:
		case <-ctx.Done():
			// Give up unless a group took the call or it was made the
			// leader: then its group, or the one it leads, must run.
			s.mu.Lock()
			if i := slices.Index(s.queue, u); i >= 0 && !u.lead {
				s.queue = slices.Delete(s.queue, i, i+1)
				s.mu.Unlock()
				return ctx.Err()
			}
			s.mu.Unlock()
			<-u.wake
		}
		lead = u.lead
	}
	if lead {
		s.commitGroup()
	}
	if u.panicked {
		panic(u.panicVal)
	}
	return u.err
}

// update is one call of Update waiting for its group.
type update struct {
	ctx context.Context
	fn  func(tx store.Tx) error

	err      error
	panicked bool
	panicVal any
	// lead is set, holding Store.mu, before wake: the caller leads the
	// next group.
	lead bool
	// wake receives once: the group holding the update is committed, or
	// lead is set.
	wake chan struct{}
}

// maxGroup bounds the calls of one group, so that the first of them does
// not wait long for the last.
const maxGroup = 64

// commitGroup runs the calls at the head of the queue as one group, then
// hands the lead to the next call queued, if any. Only the leader calls it.
func (s *Store) commitGroup() {
	s.mu.Lock()
	n := min(len(s.queue), maxGroup)
	group := s.queue[:n:n]
	s.queue = append([]*update(nil), s.queue[n:]...)
	s.mu.Unlock()

	s.write <- struct{}{}
	s.runGroup(group)
	<-s.write

	s.mu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		s.leading = false
	}
	s.mu.Unlock()
	for _, u := range group {
		if !u.lead { // a leader was woken to lead, not for its result
			u.wake <- struct{}{}
		}
	}
}

// runGroup runs the functions of a group and commits what they wrote. s.write
// is held. Under a journal's limits, a function whose writes would take
// the commit past them is moved, with its writes, to a new commit after
// the one of the functions before it; one past them alone commits alone.
func (s *Store) runGroup(group []*update) {
	if s.closed.Load() {
		for _, u := range group {
			u.err = store.ErrClosed
		}
		return
	}
	g := s.updateGroup()
	defer func() { s.endGroup(g) }()
	rev := s.state.Load().rev
	var done []result
	for _, u := range group {
		if u.err = u.ctx.Err(); u.err != nil {
			continue
		}
		tx := g.newTx(rev + 1)
		mark := len(g.log)
		u.err, u.panicked, u.panicVal = call(u.fn, tx)
		if u.err != nil || u.panicked {
			if len(g.log) > mark {
				if err := g.rollback(mark); err != nil {
					for _, d := range done {
						d.u.err = err
					}
					done = nil
				}
			}
			continue
		}
		if len(tx.changes) == 0 {
			continue
		}
		if g.over() && len(done) > 0 {
			// Commit the functions before this one, then replay its
			// writes on the next commit: it read what they wrote, and
			// its stamp is the next revision.
			ops := slices.Clone(g.log[mark:])
			if err := g.rollback(mark); err != nil {
				u.err = err
				for _, d := range done {
					d.u.err = err
				}
				return
			}
			ok := s.commit(g, rev, done)
			if !ok {
				u.err = done[0].u.err // it read what they wrote
			}
			done = nil
			g = s.nextGroup(g)
			rev = s.state.Load().rev
			if !ok {
				continue
			}
			if err := g.replay(ops); err != nil {
				u.err = err
				if err := g.rollback(0); err != nil {
					u.err = err
				}
				continue
			}
		}
		if g.over() {
			// This function alone is past the limits: it commits alone,
			// and the journal takes it in as many steps as it needs.
			rev++
			s.commit(g, rev, []result{{u, tx}})
			g = s.nextGroup(g)
			rev = s.state.Load().rev
			continue
		}
		rev++
		done = append(done, result{u, tx})
	}
	s.commit(g, rev, done)
}

// updateGroup starts a group of Update calls on the last commit, under
// the journal's limits.
func (s *Store) updateGroup() *group {
	g := s.newGroup(s.state.Load())
	g.limits = s.limits
	return g
}

// nextGroup ends g and starts the group that goes on after it.
func (s *Store) nextGroup(g *group) *group {
	s.endGroup(g)
	return s.updateGroup()
}

// result is a function of a group that wrote, and its transaction.
type result struct {
	u  *update
	tx *writeTx
}

// commit commits the writes of a group's functions that succeeded (done)
// at rev, or sets their error if the journal refuses them; it reports
// whether they committed.
func (s *Store) commit(g *group, rev int64, done []result) bool {
	if len(done) == 0 {
		return true
	}
	err := g.flush()
	if err == nil {
		err = g.journal(rev)
	}
	if err != nil {
		for _, d := range done {
			d.u.err = fmt.Errorf("commit: %w", err)
		}
		return false
	}
	g.txn.Commit()
	g.committed = true
	s.state.Store(&state{db: s.db.Snapshot(), rev: rev})
	for _, d := range done {
		s.hub.Publish(d.tx.rev, d.tx.changes)
	}
	return true
}

// call runs fn, turning a panic into a value for its caller's goroutine
// to raise again.
func call(fn func(tx store.Tx) error, tx *writeTx) (err error, panicked bool, val any) {
	defer func() {
		if panicked {
			val = recover()
		}
	}()
	panicked = true
	err = fn(tx)
	return err, false, nil
}

// Watch implements store.Store. Fields filter as in List: each must be
// indexed for the watched kind (or for every kind when Kind is empty), or
// be metadata.name or metadata.namespace.
func (s *Store) Watch(ctx context.Context, opts store.WatchOptions) (store.Watcher, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	f := watchcache.Filter{Kind: opts.Kind, Namespace: opts.Namespace, Labels: opts.Labels}
	var k *storecore.Kind
	if opts.Kind != "" {
		var err error
		if k, err = s.kinds.Lookup(opts.Kind); err != nil {
			return nil, fmt.Errorf("watch: %w", err)
		}
		if !k.Info.Namespaced {
			f.Namespace = ""
		}
	}
	for _, field := range sortedKeys(opts.Fields) {
		fm, err := s.fieldMatch(k, field, opts.Fields[field])
		if err != nil {
			return nil, fmt.Errorf("watch %s: %w", opts.Kind, err)
		}
		f.Fields = append(f.Fields, fm)
	}
	if opts.Revision < 0 {
		return nil, fmt.Errorf("watch: revision %d: must be at least 0", opts.Revision)
	}
	return s.hub.Watch(ctx, f, opts.Revision, opts.Buffer)
}

func (s *Store) fieldMatch(k *storecore.Kind, field, value string) (watchcache.FieldMatch, error) {
	switch field {
	case storecore.FieldName:
		return watchcache.FieldMatch{Field: field, Func: metaName, Value: value}, nil
	case storecore.FieldNamespace:
		return watchcache.FieldMatch{Field: field, Func: metaNamespace, Value: value}, nil
	}
	if k != nil {
		if ix, ok := k.Index(field); ok {
			return watchcache.FieldMatch{Field: field, Func: ix.Func, Value: value}, nil
		}
	} else {
		for _, ix := range s.cfg.indexes {
			if ix.Kind == "" && ix.Field == field {
				return watchcache.FieldMatch{Field: field, Func: ix.Func, Value: value}, nil
			}
		}
	}
	return watchcache.FieldMatch{}, fmt.Errorf("field label not supported: %s: %w", field, store.ErrUnknownIndex)
}

func metaName(o objects.Object) []string      { return []string{o.GetObjectMeta().Name} }
func metaNamespace(o objects.Object) []string { return []string{o.GetObjectMeta().Namespace} }

// Close implements store.Store. It waits for a running write transaction,
// ends every watch with store.ErrClosed, and makes later calls fail with
// it. Closing again does nothing.
func (s *Store) Close() error {
	s.write <- struct{}{}
	defer func() { <-s.write }()
	if s.closed.Swap(true) {
		return nil
	}
	s.hub.Close()
	return nil
}

// stamp returns what a commit at rev writes into objects.
func (s *Store) stamp(rev int64) storecore.Stamp {
	return storecore.Stamp{ResourceVersion: strconv.FormatInt(rev, 10), Now: objects.NewTime(s.cfg.clock.Now())}
}

func (s *Store) newUID() string {
	id, err := uuid.NewRandomFromReader(s.src)
	if err != nil {
		panic(err) // ChaCha8 reads never fail
	}
	return id.String()
}
