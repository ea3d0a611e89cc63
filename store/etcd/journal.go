package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/podkit/podkit/internal/objjson"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store/memdb"
)

// journal is the memdb.LimitedJournal on etcd.
type journal struct {
	cli   *clientv3.Client
	cfg   Config
	mutex *concurrency.Mutex
	// ctx bounds etcd calls: Open's while it loads, then the session's,
	// which ends when the lock's lease does.
	ctx context.Context
	// enc holds the JSON of the objects Size measured, for Append. Both
	// are called holding the memdb store's write lock.
	enc map[objects.Object][]byte
	// rev is the revision etcd holds.
	rev int64

	lost     chan struct{} // closed when a commit finds the lock taken
	loseOnce sync.Once
}

// txnOverhead is what a transaction takes besides its objects: the
// lock's compare and the revision's put.
const txnOverhead = 1024

// opOverhead is what an operation takes besides its key and value.
const opOverhead = 16

func (j *journal) objectsPrefix() string { return j.cfg.Prefix + "objects/" }
func (j *journal) revisionKey() string   { return j.cfg.Prefix + "revision" }
func (j *journal) formatKey() string     { return j.cfg.Prefix + "format" }

// splitKey parses what follows the objects prefix.
func splitKey(b []byte) (string, objects.Key, bool) {
	parts := strings.SplitN(string(b), "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return "", objects.Key{}, false
	}
	return parts[0], objects.Key{Namespace: parts[1], Name: parts[2]}, true
}

// prepare writes the layout's format under a new prefix and checks it
// under an existing one.
func (j *journal) prepare(ctx context.Context) error {
	resp, err := j.cli.Txn(ctx).If(j.mutex.IsOwner(), clientv3.Compare(clientv3.Version(j.formatKey()), "=", 0)).
		Then(clientv3.OpPut(j.formatKey(), format)).
		Else(clientv3.OpGet(j.formatKey())).Commit()
	if err != nil {
		return fmt.Errorf("read the format: %w", err)
	}
	if resp.Succeeded {
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return fmt.Errorf("%w: its key is gone", ErrLockLost)
	}
	if f := string(kvs[0].Value); f != format {
		return fmt.Errorf("%s holds format %q, not %q: it is not a podkit store of this version", j.formatKey(), f, format)
	}
	return nil
}

// loadPage is how many objects a Load request reads.
const loadPage = 1000

// Load implements memdb.Journal: every object under the prefix, as of one
// etcd revision, read in pages and decoded on every CPU.
func (j *journal) Load(scheme *objects.Scheme, load func(objects.Object) error) (int64, error) {
	if err := j.recover(); err != nil {
		return 0, err
	}
	resp, err := j.cli.Get(j.ctx, j.revisionKey())
	if err != nil {
		return 0, fmt.Errorf("read the revision: %w", err)
	}
	if len(resp.Kvs) > 0 {
		if j.rev, err = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64); err != nil {
			return 0, fmt.Errorf("revision %q: %w", resp.Kvs[0].Value, err)
		}
	}
	at := resp.Header.Revision
	prefix := j.objectsPrefix()
	end := clientv3.GetPrefixRangeEnd(prefix)
	split := func(k []byte) (string, objects.Key, bool) {
		return splitKey(k[len(prefix):])
	}
	err = objjson.DecodeAll(scheme, split, func(emit func(k, v []byte) error) error {
		from := prefix
		for {
			page, err := j.cli.Get(j.ctx, from, clientv3.WithRange(end), clientv3.WithRev(at), clientv3.WithLimit(loadPage))
			if err != nil {
				return fmt.Errorf("read the objects: %w", err)
			}
			for _, kv := range page.Kvs {
				if err := emit(kv.Key, kv.Value); err != nil {
					return err
				}
			}
			if !page.More || len(page.Kvs) == 0 {
				return nil
			}
			from = string(page.Kvs[len(page.Kvs)-1].Key) + "\x00"
		}
	}, load)
	return j.rev, err
}

// Limits implements memdb.LimitedJournal.
func (j *journal) Limits() (int, int) {
	return j.cfg.MaxTxnOps - 1, j.cfg.MaxRequestBytes - txnOverhead
}

// Size implements memdb.LimitedJournal: the object's key and JSON, which
// it keeps for Append.
func (j *journal) Size(w memdb.Write) (int, error) {
	n := len(j.objectsPrefix()) + len(w.Kind) + len(w.Key.Namespace) + len(w.Key.Name) + 2 + opOverhead
	if w.Object == nil {
		return n, nil
	}
	v, err := j.encode(w)
	return n + len(v), err
}

func (j *journal) encode(w memdb.Write) ([]byte, error) {
	if v, ok := j.enc[w.Object]; ok {
		return v, nil
	}
	if strings.Contains(w.Kind, "/") || strings.Contains(w.Key.Namespace, "/") {
		return nil, fmt.Errorf("%s %s: a kind or namespace with a / cannot be stored in etcd's keys", w.Kind, w.Key)
	}
	v, err := json.Marshal(w.Object)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", w.Kind, w.Key, err)
	}
	j.enc[w.Object] = v
	return v, nil
}

// Append implements memdb.Journal: one etcd transaction, which succeeds
// only while the store holds its lock, or for a commit past etcd's limits
// on a transaction, the steps of appendLarge.
func (j *journal) Append(rev int64, writes []memdb.Write) error {
	defer clear(j.enc)
	recs := make([]record, len(writes))
	size := 0
	for i, w := range writes {
		recs[i].Key = w.Kind + "/" + w.Key.Namespace + "/" + w.Key.Name
		if w.Object != nil {
			v, err := j.encode(w)
			if err != nil {
				return err
			}
			recs[i].Value = v
		}
		size += recs[i].size()
	}
	maxWrites, maxBytes := j.Limits()
	if len(recs) > maxWrites || size > maxBytes {
		return j.appendLarge(rev, recs)
	}
	resp, err := j.cli.Txn(j.ctx).If(j.mutex.IsOwner()).Then(append(j.ops(recs), j.revisionOp(rev))...).Commit()
	if err != nil {
		return j.settle(rev, err)
	}
	if !resp.Succeeded {
		j.lose()
		return fmt.Errorf("%w: another store holds it", ErrLockLost)
	}
	j.rev = rev
	return nil
}

func (j *journal) revisionOp(rev int64) clientv3.Op {
	return clientv3.OpPut(j.revisionKey(), strconv.FormatInt(rev, 10))
}

// record is one object of a commit: its key after the objects prefix and
// its JSON, or no JSON when the commit removes it.
type record struct {
	Key   string          `json:"k"`
	Value json.RawMessage `json:"v,omitempty"`
}

func (r record) size() int { return len(r.Key) + len(r.Value) + opOverhead }

// ops are the etcd operations that write recs.
func (j *journal) ops(recs []record) []clientv3.Op {
	ops := make([]clientv3.Op, 0, len(recs)+1)
	for _, r := range recs {
		if r.Value == nil {
			ops = append(ops, clientv3.OpDelete(j.objectsPrefix()+r.Key))
		} else {
			ops = append(ops, clientv3.OpPut(j.objectsPrefix()+r.Key, string(r.Value)))
		}
	}
	return ops
}

// redoPrefix is where appendLarge keeps a commit at rev until it is
// written in place: PREFIX/redo/REV/ followed by a part number, and
// "done" once the commit happened.
func (j *journal) redoPrefix(rev int64) string {
	return fmt.Sprintf("%sredo/%020d/", j.cfg.Prefix, rev)
}

// appendLarge records a commit past etcd's limits on a transaction, as a
// redo log: its parts go under redoPrefix first, each in a transaction of
// its own; one transaction then marks them done and writes the revision,
// which is when the commit happens; then each part is written in place,
// and the parts removed. A store that stops before the mark leaves parts
// that Load removes; one that stops after it leaves parts that Load
// writes in place first.
func (j *journal) appendLarge(rev int64, recs []record) error {
	maxWrites, maxBytes := j.Limits()
	var parts [][]record
	var part []record
	size := 0
	for _, r := range recs {
		if r.size() > maxBytes {
			return fmt.Errorf("%w: %s is %d bytes in etcd, which takes %d in a request (its --max-request-bytes, and Config.MaxRequestBytes)",
				ErrTooLarge, r.Key, r.size(), j.cfg.MaxRequestBytes)
		}
		if len(part) == maxWrites || size+r.size() > maxBytes {
			parts = append(parts, part)
			part, size = nil, 0
		}
		part = append(part, r)
		size += r.size()
	}
	parts = append(parts, part)

	redo := j.redoPrefix(rev)
	// What an earlier attempt at rev left goes first: etcd refuses a
	// transaction that deletes a key and puts it.
	if err := j.fenced(clientv3.OpDelete(redo, clientv3.WithPrefix())); err != nil {
		return err
	}
	for i, p := range parts {
		v, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if err := j.fenced(clientv3.OpPut(redo+strconv.Itoa(i), string(v))); err != nil {
			return err
		}
	}
	resp, err := j.cli.Txn(j.ctx).If(j.mutex.IsOwner()).
		Then(clientv3.OpPut(redo+"done", strconv.Itoa(len(parts))), j.revisionOp(rev)).Commit()
	switch {
	case err != nil:
		if err := j.settle(rev, err); err != nil {
			return err
		}
	case !resp.Succeeded:
		j.lose()
		return fmt.Errorf("%w: another store holds it", ErrLockLost)
	}
	j.rev = rev
	// The commit happened. Writing it in place must finish before any
	// later commit, which could write the same objects: until it does,
	// or while the store cannot, the store stops serving and its
	// successor finishes it in Load.
	if err := j.writeInPlace(rev, parts); err != nil {
		j.lose()
	}
	return nil
}

// fenced runs ops in a transaction that succeeds only while the store
// holds its lock.
func (j *journal) fenced(ops ...clientv3.Op) error {
	resp, err := j.cli.Txn(j.ctx).If(j.mutex.IsOwner()).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	if !resp.Succeeded {
		j.lose()
		return fmt.Errorf("%w: another store holds it", ErrLockLost)
	}
	return nil
}

// writeInPlace writes the parts of a commit at rev under the objects
// prefix, then removes them. Writing a part again is harmless, so each
// is tried until it succeeds, or the lock is lost.
func (j *journal) writeInPlace(rev int64, parts [][]record) error {
	steps := make([][]clientv3.Op, 0, len(parts)+1)
	for _, p := range parts {
		steps = append(steps, j.ops(p))
	}
	steps = append(steps, []clientv3.Op{clientv3.OpDelete(j.redoPrefix(rev), clientv3.WithPrefix())})
	for _, ops := range steps {
		for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
			err := j.fenced(ops...)
			if err == nil {
				break
			}
			if errors.Is(err, ErrLockLost) {
				return err
			}
			select {
			case <-j.ctx.Done():
				return err
			case <-time.After(wait):
			}
		}
	}
	return nil
}

// recover finishes the commits that a store stopped writing in place
// (their parts are marked done) and removes the parts of those that did
// not happen, before Load reads the objects.
func (j *journal) recover() error {
	resp, err := j.cli.Get(j.ctx, j.cfg.Prefix+"redo/", clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("read the redo log: %w", err)
	}
	type pending struct {
		parts map[int][]record
		done  int // parts, or -1 while not marked done
	}
	byRev := map[int64]*pending{}
	var revs []int64
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), j.cfg.Prefix+"redo/")
		revText, name, ok := strings.Cut(rest, "/")
		rev, err := strconv.ParseInt(revText, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("redo log key %q: not REV/PART", kv.Key)
		}
		p := byRev[rev]
		if p == nil {
			p = &pending{parts: map[int][]record{}, done: -1}
			byRev[rev] = p
			revs = append(revs, rev)
		}
		n, err := strconv.Atoi(string(kv.Value))
		if name == "done" {
			if err != nil {
				return fmt.Errorf("redo log key %q: %q is not a count of parts", kv.Key, kv.Value)
			}
			p.done = n
			continue
		}
		i, err := strconv.Atoi(name)
		if err != nil {
			return fmt.Errorf("redo log key %q: not REV/PART", kv.Key)
		}
		var part []record
		if err := json.Unmarshal(kv.Value, &part); err != nil {
			return fmt.Errorf("redo log key %q: %w", kv.Key, err)
		}
		p.parts[i] = part
	}
	slices.Sort(revs)
	for _, rev := range revs {
		p := byRev[rev]
		var parts [][]record
		for i := range max(p.done, 0) {
			part, ok := p.parts[i]
			if !ok {
				return fmt.Errorf("redo log of revision %d: part %d of %d is missing", rev, i, p.done)
			}
			parts = append(parts, part)
		}
		if err := j.writeInPlace(rev, parts); err != nil {
			return fmt.Errorf("finish the commit of revision %d: %w", rev, err)
		}
	}
	return nil
}

// settle finds out whether a commit whose call failed happened: only the
// lock's holder writes the revision, so etcd holds rev if and only if it
// did. It asks until etcd answers or the lock's lease ends.
func (j *journal) settle(rev int64, callErr error) error {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		resp, err := j.cli.Get(j.ctx, j.revisionKey())
		if err == nil {
			var held int64
			if len(resp.Kvs) > 0 {
				held, _ = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
			}
			switch held {
			case rev:
				j.rev = rev
				return nil
			case j.rev:
				return fmt.Errorf("etcd: %w", callErr)
			default: // another store wrote it
				j.lose()
				return fmt.Errorf("%w: etcd holds revision %d, written by another store", ErrLockLost, held)
			}
		}
		select {
		case <-j.ctx.Done():
			return fmt.Errorf("etcd: %w (and whether the commit happened is unknown: %w)", callErr, ErrLockLost)
		case <-time.After(wait):
		}
	}
}

// lose tells the store its lock is lost.
func (j *journal) lose() {
	j.loseOnce.Do(func() { close(j.lost) })
}

var _ memdb.LimitedJournal = (*journal)(nil)
