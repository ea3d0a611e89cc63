package memdb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/podkit/podkit/objects"
)

// A Journal makes a Store durable. The store keeps serving every read from
// memory and hands the journal each commit before any reader or watcher
// can see it; when the journal fails, the commit does not happen. New
// loads what the journal holds. store/bolt is one, on a file.
type Journal interface {
	// Load calls load with every object the journal holds, in any order,
	// and returns the revision of the last commit it recorded, or 0 when
	// it holds none. scheme is the store's, to make objects by kind.
	// Objects handed to load become the store's own.
	Load(scheme *objects.Scheme, load func(obj objects.Object) error) (rev int64, err error)
	// Append records one commit: the store's revision becomes rev, and
	// each write's object is stored under its kind and key, or removed
	// when Object is nil. It must be atomic: either it records everything
	// and returns nil, or nothing. Objects are stored ones: read them,
	// never modify them.
	Append(rev int64, writes []Write) error
}

// Write is one object of a commit handed to a Journal.
type Write struct {
	Kind string
	// Key is the object's namespace (empty for a cluster-scoped kind) and
	// name.
	Key objects.Key
	// Object is what is stored under Kind and Key now; nil when the
	// commit removed it.
	Object objects.Object
}

// A LimitedJournal takes commits up to a size in one step, as etcd takes
// transactions of at most so many operations and bytes. The store hands
// it no commit of more than maxWrites objects or more than maxBytes,
// counting the Size of each object written, unless a single Update writes
// more: it splits a group of concurrent Update calls (see Store.Update)
// into commits that fit, each Update whole in one, and an Update past
// the limits alone is a commit of its own, which the journal must still
// record atomically, in as many steps as it needs.
type LimitedJournal interface {
	Journal
	Limits() (maxWrites, maxBytes int)
	// Size returns what w takes of maxBytes. The store calls it under its
	// write lock, for each object a commit writes, before Append.
	Size(w Write) (int, error)
}

// WithJournal makes the store durable through j: New loads what j holds,
// and every commit is appended to j before it is visible (see Journal).
// Watches cannot resume from a revision before the load.
func WithJournal(j Journal) Option {
	return func(c *config) error {
		if j == nil {
			return errors.New("WithJournal: journal is nil")
		}
		c.journal = j
		return nil
	}
}

// load fills the empty store with what its journal holds, as one commit
// that no watcher sees, and returns the journal's revision.
func (s *Store) load() (int64, error) {
	base := s.state.Load()
	g := s.newGroup(base)
	defer s.endGroup(g)
	rev, err := s.cfg.journal.Load(s.cfg.scheme, func(obj objects.Object) error {
		k, err := s.kinds.Of(obj)
		if err != nil {
			return err
		}
		m := obj.GetObjectMeta()
		if m.Name == "" || strings.IndexByte(m.Name, 0) >= 0 || strings.IndexByte(m.Namespace, 0) >= 0 {
			return fmt.Errorf("%s %q in namespace %q: not a valid stored name", k.Info.Kind, m.Name, m.Namespace)
		}
		if k.Info.Namespaced != (m.Namespace != "") {
			return fmt.Errorf("%s %q: namespace %q does not suit a kind namespaced=%t", k.Info.Kind, m.Name, m.Namespace, k.Info.Namespaced)
		}
		key := k.KeyOf(m)
		if old, err := g.get(k.Info.Kind, key); err != nil || old != nil {
			if err != nil {
				return err
			}
			return fmt.Errorf("%s %s: %w", k.Info.Kind, key, errDuplicate)
		}
		if obj.GetTypeMeta().Kind == "" {
			if _, err := s.cfg.scheme.SetTypeMeta(obj); err != nil {
				return err
			}
		}
		return g.write(k, nil, obj)
	})
	if err != nil {
		return 0, fmt.Errorf("load journal: %w", err)
	}
	if err := g.flush(); err != nil {
		return 0, fmt.Errorf("load journal: %w", err)
	}
	g.txn.Commit()
	g.committed = true
	return max(rev, initialRevision), nil
}

var errDuplicate = errors.New("loaded twice")

// limits are a LimitedJournal's, as a group checks them.
type limits struct {
	j                   LimitedJournal
	maxWrites, maxBytes int
}

// size records the size of what the group now holds under id (obj nil:
// removed).
func (g *group) size(kind string, key objects.Key, obj objects.Object) error {
	id := objectID{kind, key}
	n, err := g.limits.j.Size(Write{Kind: kind, Key: key, Object: obj})
	if err != nil {
		return err
	}
	g.bytes += n - g.sizes[id]
	g.sizes[id] = n
	return nil
}

// over reports whether what the group wrote no longer fits one commit of
// its journal.
func (g *group) over() bool {
	return g.limits != nil && (len(g.written) > g.limits.maxWrites || g.bytes > g.limits.maxBytes)
}

// journal hands the group's writes to the store's journal, if it has one:
// the last state of each object the group wrote, or its removal.
func (g *group) journal(rev int64) error {
	j := g.s.cfg.journal
	if j == nil {
		return nil
	}
	writes := make([]Write, 0, len(g.written))
	for id, obj := range g.written {
		writes = append(writes, Write{Kind: id.kind, Key: id.key, Object: obj})
	}
	return j.Append(rev, writes)
}
