package etcd

import (
	"context"
	"encoding/json"
	"fmt"
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
	cli     *clientv3.Client
	cfg     Config
	mutex   *concurrency.Mutex
	session *concurrency.Session
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

func (j *journal) key(kind string, k objects.Key) string {
	return j.objectsPrefix() + kind + "/" + k.Namespace + "/" + k.Name
}

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
// only while the store holds its lock.
func (j *journal) Append(rev int64, writes []memdb.Write) error {
	defer clear(j.enc)
	ops := make([]clientv3.Op, 0, len(writes)+1)
	for _, w := range writes {
		if w.Object == nil {
			ops = append(ops, clientv3.OpDelete(j.key(w.Kind, w.Key)))
			continue
		}
		v, err := j.encode(w)
		if err != nil {
			return err
		}
		ops = append(ops, clientv3.OpPut(j.key(w.Kind, w.Key), string(v)))
	}
	ops = append(ops, clientv3.OpPut(j.revisionKey(), strconv.FormatInt(rev, 10)))
	resp, err := j.cli.Txn(j.ctx).If(j.mutex.IsOwner()).Then(ops...).Commit()
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
