package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindControllerRevision = "ControllerRevision"

// Revision history kept in ControllerRevisions, as Kubernetes keeps it
// for StatefulSets (controller/history) and DaemonSets (the daemon
// controller's own copy of the same rules): one revision per distinct pod
// template an owner rolled out, holding templatePatch of it, named
// <owner>-<hash>, numbered in the order the templates were (last) rolled
// out. The two kinds differ only in the hash: a StatefulSet's is the hash
// of the revision's data, a DaemonSet's that of its pod template (the
// value its pods' controller-revision-hash label has always had).

// revisionHash gives the hash that names a revision, for a collision
// count.
type revisionHash func(collisionCount int32) string

// dataHash is the StatefulSet's revisionHash: Kubernetes'
// HashControllerRevision of the revision's data.
func dataHash(data []byte) revisionHash {
	return func(collisionCount int32) string { return hashControllerRevision(data, collisionCount) }
}

// newControllerRevision returns a revision of owner holding data, with
// number revision, labelled with the owner's template labels and hash and
// named after both, as Kubernetes' NewControllerRevision makes it.
func newControllerRevision(owner objects.Object, labels map[string]string, data []byte, revision int64, hash string) *objects.ControllerRevision {
	l := maps.Clone(labels)
	if l == nil {
		l = map[string]string{}
	}
	cr := &objects.ControllerRevision{
		ObjectMeta: objects.ObjectMeta{
			Namespace:       owner.GetObjectMeta().Namespace,
			Labels:          l,
			OwnerReferences: []objects.OwnerReference{NewControllerRef(owner)},
		},
		Data:     objects.RawExtension{Raw: data},
		Revision: revision,
	}
	nameRevision(cr, owner.GetObjectMeta().Name, hash)
	return cr
}

// nameRevision names cr after its owner and hash, and labels it with hash.
func nameRevision(cr *objects.ControllerRevision, owner, hash string) {
	cr.Name = controllerRevisionName(owner, hash)
	cr.Labels[objects.ControllerRevisionHashLabelKey] = hash
}

// hashControllerRevision is Kubernetes' HashControllerRevision: FNV-32 of
// the data and the decimal collision count, in the alphabet of
// characters that never spell words.
func hashControllerRevision(data []byte, collisionCount int32) string {
	h := fnv.New32()
	h.Write(data)
	h.Write([]byte(strconv.FormatInt(int64(collisionCount), 10)))
	return safeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// controllerRevisionName is "<prefix>-<hash>", the prefix cut so that the
// name stays a valid object name.
func controllerRevisionName(prefix, hash string) string {
	if len(prefix) > 223 {
		prefix = prefix[:223]
	}
	return prefix + "-" + hash
}

// sortRevisions orders revisions oldest first: by number, then creation
// time, then name.
func sortRevisions(revs []*objects.ControllerRevision) {
	slices.SortStableFunc(revs, func(a, b *objects.ControllerRevision) int {
		if a.Revision != b.Revision {
			if a.Revision < b.Revision {
				return -1
			}
			return 1
		}
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// nextRevision is one more than the highest number in revs (sorted), 1 for
// none.
func nextRevision(revs []*objects.ControllerRevision) int64 {
	if len(revs) == 0 {
		return 1
	}
	return revs[len(revs)-1].Revision + 1
}

// equalRevisions returns the revisions holding the same data as cr.
func equalRevisions(revs []*objects.ControllerRevision, cr *objects.ControllerRevision) []*objects.ControllerRevision {
	var out []*objects.ControllerRevision
	for _, r := range revs {
		if bytes.Equal(r.Data.Raw, cr.Data.Raw) {
			out = append(out, r)
		}
	}
	return out
}

// claimRevisions returns owner's revisions, sorted oldest first: those it
// controls and the orphans its selector picks, which it adopts.
func claimRevisions(ctx context.Context, c *Client, owner objects.Object, sel objects.Selector) ([]*objects.ControllerRevision, error) {
	m := owner.GetObjectMeta()
	objs, err := listClaimCandidates(ctx, c.list, kindControllerRevision, m.Namespace, m.UID, func(o objects.Object) bool {
		return o.GetObjectMeta().ControllerRef() != nil || sel.Matches(o.GetObjectMeta().Labels)
	})
	if err != nil {
		return nil, err
	}
	claimed, err := (&claimer{c: c, owner: owner, kind: kindControllerRevision, selector: sel}).claim(ctx, objs)
	revs := make([]*objects.ControllerRevision, 0, len(claimed))
	for _, o := range claimed {
		revs = append(revs, o.(*objects.ControllerRevision))
	}
	sortRevisions(revs)
	return revs, err
}

// createRevision stores cr, as Kubernetes' CreateControllerRevision does:
// when another revision already has its name, the one owner's revision with
// the same data is returned; a different one is a hash collision, which
// raises *collisionCount and renames cr (with hash) until the name is
// free.
func createRevision(ctx context.Context, c *Client, owner objects.Object, cr *objects.ControllerRevision, hash revisionHash, collisionCount *int32) (*objects.ControllerRevision, error) {
	uid := owner.GetObjectMeta().UID
	var out *objects.ControllerRevision
	err := c.Txn(ctx, func(tx store.Tx) error {
		count := *collisionCount
		for {
			try := cr.DeepCopy()
			nameRevision(try, owner.GetObjectMeta().Name, hash(count))
			o, err := tx.Get(kindControllerRevision, try.Key())
			if errors.Is(err, store.ErrNotFound) {
				if err := c.AdmitCreate(tx, try); err != nil {
					return err
				}
				if err := tx.Create(try); err != nil {
					return err
				}
				out, *collisionCount = try, count
				return nil
			}
			if err != nil {
				return err
			}
			exists := o.(*objects.ControllerRevision)
			if ref := exists.ControllerRef(); ref != nil && ref.UID == uid && bytes.Equal(exists.Data.Raw, try.Data.Raw) {
				out, *collisionCount = exists, count
				return nil
			}
			count++
		}
	})
	if err != nil {
		return nil, fmt.Errorf("create ControllerRevision for %s: %w", owner.GetObjectMeta().Name, err)
	}
	return out, nil
}

// renumberRevision gives an existing revision a new number: an owner going
// back to an earlier state makes that state's revision the newest.
func renumberRevision(ctx context.Context, c *Client, cr *objects.ControllerRevision, revision int64) (*objects.ControllerRevision, error) {
	if cr.Revision == revision {
		return cr, nil
	}
	upd := cr.DeepCopy()
	upd.Revision = revision
	if err := c.Update(ctx, upd); err != nil {
		return nil, err
	}
	return upd, nil
}

// truncateHistory deletes the oldest of a StatefulSet's revisions beyond
// limit, sparing the live ones (those named in live), as Kubernetes'
// truncateHistory does: limit counts the revisions that are not live. revs
// is sorted oldest first.
func truncateHistory(ctx context.Context, c *Client, revs []*objects.ControllerRevision, live map[string]bool, limit int) error {
	var history []*objects.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			history = append(history, r)
		}
	}
	if len(history) <= limit {
		return nil
	}
	return deleteRevisions(ctx, c, history[:len(history)-limit])
}

// deleteRevisions deletes revs; one already gone or replaced is no error.
func deleteRevisions(ctx context.Context, c *Client, revs []*objects.ControllerRevision) error {
	for _, r := range revs {
		_, err := c.Delete(ctx, kindControllerRevision, r.Key(), store.DeleteOptions{Preconditions: &store.Preconditions{UID: r.UID}})
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// historyLimit is a revisionHistoryLimit, 10 when unset.
func historyLimit(l *int32) int {
	if l == nil {
		return 10
	}
	return int(*l)
}

// templatePatch is the data of a revision of template t: a patch that puts
// the template back, as Kubernetes' getPatch of the StatefulSet and
// DaemonSet controllers writes it (keys sorted, so that equal templates
// give equal bytes, which is how a revision is matched to a template).
func templatePatch(t *objects.PodTemplateSpec) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	m["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
}

// revisionTemplate returns the pod template a revision holds, defaulted.
func revisionTemplate(cr *objects.ControllerRevision) (*objects.PodTemplateSpec, error) {
	var patch struct {
		Spec struct {
			Template json.RawMessage `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(cr.Data.Raw, &patch); err != nil {
		return nil, fmt.Errorf("ControllerRevision %s: data: %w", cr.Name, err)
	}
	if len(patch.Spec.Template) == 0 {
		return nil, fmt.Errorf("ControllerRevision %s: data holds no spec.template", cr.Name)
	}
	t := &objects.PodTemplateSpec{}
	if err := json.Unmarshal(patch.Spec.Template, t); err != nil { // "$patch" is not a field
		return nil, fmt.Errorf("ControllerRevision %s: data: spec.template: %w", cr.Name, err)
	}
	objects.DefaultPodSpec(&t.Spec)
	return t, nil
}
