// Package bolt is podkit's durable store: the memdb store, serving every
// read and watch from memory as store/memdb does, whose commits are also
// written to a file with go.etcd.io/bbolt before any reader or watcher can
// see them. Open loads what the file holds, so that a host process that
// stops or crashes and starts again finds every object it had committed:
// its node agents then adopt the containers still running for those pods
// instead of running them again, as a kubelet does when it restarts (give
// them a volume root, nodeagent.WithRootDir, for the pods' volumes to be
// found again too).
//
// A commit is synced to disk before Update returns (one sync for each
// group of concurrent Update calls, see memdb.Store.Update); a commit the
// file could not take fails and leaves nothing behind. The file holds
// each object as JSON under its kind, namespace and name, and the store's
// revision, so resourceVersions continue where they stopped. Events kept
// for resuming watches are not in the file: after Open a watch can resume
// from the loaded revision on, and an older one fails with
// store.ErrRevisionTooOld, as after a compaction. The file keeps the size
// it grew to at its fullest: bbolt reuses the pages that deletions free
// rather than give them back.
//
// One store at a time may open a file: Open fails while another, in this
// process or another, holds it.
//
// At scale (go run ./bench/scale -nodes 5000 -pods 150000 -store bolt,
// two runs on a 2-core machine, 2026-11-23) every pod runs after 40.5 and
// 40.7 s, twice memdb's time, and all are gone after 14.8 and 15.7 s; the
// peak RSS is 2,970–3,048 MiB and the file grows to 537 MiB. A third of
// the CPU goes to encoding the objects as JSON and to bbolt's commits,
// and the process waits on its syncs: it uses 1.5 of the 2 cores.
package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/podkit/podkit/internal/objjson"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// Store is the durable store. It implements store.Store, and has every
// method of memdb.Store.
type Store struct {
	*memdb.Store
	db *bbolt.DB
}

var _ store.Store = (*Store)(nil)

// lockTimeout bounds the wait for the file's lock in Open.
const lockTimeout = time.Second

var (
	objectsBucket = []byte("objects")
	metaBucket    = []byte("meta")
	revisionKey   = []byte("revision")
	formatKey     = []byte("format")
	format        = []byte("podkit/1")
)

// Open opens the store kept in the file at path, making the file if it
// does not exist. opts configure the memdb store it serves from (scheme,
// clock, indexes, watch history and buffers); every kind the file holds
// must be registered in the scheme.
func Open(path string, opts ...memdb.Option) (*Store, error) {
	// The free list is not written at each commit but rebuilt when the
	// file is opened, and kept as a map: with many objects rewritten at
	// each commit, writing it costs more than the objects (etcd opens its
	// bbolt files the same way).
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("bolt.Open %s: another store has the file open (its lock was not released within %s)", path, lockTimeout)
		}
		return nil, fmt.Errorf("bolt.Open %s: %w", path, err)
	}
	if err := db.Update(prepare); err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt.Open %s: %w", path, err)
	}
	j := &journal{db: db}
	ms, err := memdb.New(append(opts, memdb.WithJournal(j))...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt.Open %s: %w", path, err)
	}
	return &Store{Store: ms, db: db}, nil
}

// prepare makes the buckets of a new file and checks the format of an
// existing one.
func prepare(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(objectsBucket); err != nil {
		return err
	}
	switch f := meta.Get(formatKey); {
	case f == nil:
		return meta.Put(formatKey, format)
	case !bytes.Equal(f, format):
		return fmt.Errorf("the file holds format %q, not %q: it is not a podkit store of this version", f, format)
	}
	return nil
}

// Close closes the store, then the file.
func (s *Store) Close() error {
	err := s.Store.Close()
	if cerr := s.db.Close(); cerr != nil && !errors.Is(cerr, berrors.ErrDatabaseNotOpen) {
		err = errors.Join(err, fmt.Errorf("close %s: %w", s.db.Path(), cerr))
	}
	return err
}

// Path returns the path of the store's file.
func (s *Store) Path() string { return s.db.Path() }

// journal is the memdb.Journal on the file.
type journal struct {
	db *bbolt.DB
}

// key is kind NUL namespace NUL name: memdb refuses names with NUL bytes.
func key(kind string, k objects.Key) []byte {
	b := make([]byte, 0, len(kind)+len(k.Namespace)+len(k.Name)+2)
	b = append(b, kind...)
	b = append(b, 0)
	b = append(b, k.Namespace...)
	b = append(b, 0)
	return append(b, k.Name...)
}

func splitKey(b []byte) (kind string, k objects.Key, ok bool) {
	parts := bytes.SplitN(b, []byte{0}, 3)
	if len(parts) != 3 {
		return "", objects.Key{}, false
	}
	return string(parts[0]), objects.Key{Namespace: string(parts[1]), Name: string(parts[2])}, true
}

// Load implements memdb.Journal. Objects are decoded on every CPU, which
// is most of the time a large file takes to open, and handed to load one
// at a time.
func (j *journal) Load(scheme *objects.Scheme, load func(objects.Object) error) (int64, error) {
	var rev int64
	err := j.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(metaBucket).Get(revisionKey); v != nil {
			var err error
			if rev, err = strconv.ParseInt(string(v), 10, 64); err != nil {
				return fmt.Errorf("revision %q: %w", v, err)
			}
		}
		// The entries ForEach hands out are valid while the transaction is
		// open: DecodeAll returns before it closes.
		return objjson.DecodeAll(scheme, splitKey, func(emit func(k, v []byte) error) error {
			return tx.Bucket(objectsBucket).ForEach(emit)
		}, load)
	})
	return rev, err
}

// Append implements memdb.Journal: one bbolt transaction, synced.
func (j *journal) Append(rev int64, writes []memdb.Write) error {
	vals := make([][]byte, len(writes))
	for i, w := range writes {
		if w.Object == nil {
			continue
		}
		v, err := json.Marshal(w.Object)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", w.Kind, w.Key, err)
		}
		vals[i] = v
	}
	return j.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(objectsBucket)
		for i, w := range writes {
			var err error
			if w.Object == nil {
				err = b.Delete(key(w.Kind, w.Key))
			} else {
				err = b.Put(key(w.Kind, w.Key), vals[i])
			}
			if err != nil {
				return fmt.Errorf("write %s %s: %w", w.Kind, w.Key, err)
			}
		}
		return tx.Bucket(metaBucket).Put(revisionKey, strconv.AppendInt(nil, rev, 10))
	})
}
