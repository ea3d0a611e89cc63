package podkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// LastAppliedAnnotation holds the configuration an object was last applied
// with, so that a later Apply can tell fields the user removed from fields
// the server or a controller set.
const LastAppliedAnnotation = "podkit.io/last-applied-configuration"

// Apply creates each object that does not exist and updates each that does,
// in one transaction: if any object is rejected, nothing is written.
//
// An update merges as `kubectl apply` does: fields set in the applied object
// replace the live ones, fields removed since the last apply are removed,
// and fields the user never set — status, values filled in by the server
// or a controller, list items another writer added — are kept. Lists are
// merged by key where Kubernetes' patch strategy says so (containers,
// volumes and env by name, container ports by number, Service ports by
// port, ...) and replaced otherwise (tolerations, args); a kind of the
// host's own is merged by the patchStrategy and patchMergeKey tags of its
// Go type, lists replaced where it has none. The applied configuration is
// recorded in the LastAppliedAnnotation. Each object receives what was
// stored.
func (o *Orchestrator) Apply(ctx context.Context, objs ...objects.Object) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		for _, obj := range objs {
			if err := o.applyOne(ctx, tx, obj, false); err != nil {
				return err
			}
		}
		return nil
	})
}

// errDryRun ends a dry run's transaction, undoing its writes.
var errDryRun = errors.New("dry run")

// DryRun does what Apply would do with objs, and writes nothing, as
// kubectl apply --dry-run=server: the same validation, defaults,
// admission (limit ranges, quotas, service accounts, priorities...),
// allocations (cluster IPs, node ports) and merge with the stored objects,
// against the store as it is. It returns the error Apply would return, and
// each object receives what Apply would store, its uid and generation
// included; its resourceVersion is the stored object's (empty for an
// object Apply would create). Nothing is watched or reconciled, and
// nothing is held: a later Apply may differ (another write came between,
// or a generated name or address is drawn again).
func (o *Orchestrator) DryRun(ctx context.Context, objs ...objects.Object) error {
	err := o.store.Update(ctx, func(tx store.Tx) error {
		for _, obj := range objs {
			if err := o.applyOne(ctx, tx, obj, true); err != nil {
				return err
			}
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	return err
}

// applyOne applies obj in tx. A dry run gives obj the resourceVersion of
// what is stored, since it stores nothing.
func (o *Orchestrator) applyOne(ctx context.Context, tx store.Tx, obj objects.Object, dryRun bool) error {
	info, err := o.scheme.SetTypeMeta(obj)
	if err != nil {
		return err
	}
	meta := obj.GetObjectMeta()
	if info.Namespaced && meta.Namespace == "" {
		meta.Namespace = DefaultNamespace
	}
	applied, err := appliedConfig(obj)
	if err != nil {
		return err
	}
	var old objects.Object
	if meta.Name != "" {
		old, err = tx.Get(info.Kind, keyOf(info, obj))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if old == nil {
		setAnnotation(meta, LastAppliedAnnotation, string(applied))
		if _, err := o.admit(ctx, tx, obj, nil, dryRun); err != nil {
			return err
		}
		if err := tx.Create(obj); err != nil {
			return err
		}
		if dryRun {
			meta.ResourceVersion = ""
		}
		return nil
	}

	merged, err := mergeApplied(old, applied)
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", info.Kind, keyOf(info, obj), err)
	}
	next := info.New()
	if err := json.Unmarshal(merged, next); err != nil {
		return fmt.Errorf("apply %s %s: %w", info.Kind, keyOf(info, obj), err)
	}
	setAnnotation(next.GetObjectMeta(), LastAppliedAnnotation, string(applied))
	if _, err := o.admit(ctx, tx, next, old, dryRun); err != nil {
		return err
	}
	if !storecore.SemanticEqual(next, old) {
		if err := tx.Update(next); err != nil {
			return err
		}
	}
	if err := readBack(tx, info, obj); err != nil {
		return err
	}
	if dryRun {
		obj.GetObjectMeta().ResourceVersion = old.GetObjectMeta().ResourceVersion
	}
	return nil
}

// appliedConfig is the object as the user wrote it, without status or
// server-managed metadata and without an older last-applied record.
func appliedConfig(obj objects.Object) ([]byte, error) {
	c := obj.DeepCopyObject()
	m := c.GetObjectMeta()
	delete(m.Annotations, LastAppliedAnnotation)
	if len(m.Annotations) == 0 {
		m.Annotations = nil
	}
	m.UID, m.ResourceVersion, m.Generation = "", "", 0
	m.CreationTimestamp = objects.Time{}
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	delete(doc, "status")
	pruneEmpty(doc)
	return json.Marshal(doc)
}

// pruneEmpty drops null values and empty objects, which Go's encoder writes
// for unset struct fields but a user never wrote.
func pruneEmpty(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneEmpty(x)
			if len(x) == 0 {
				delete(m, k)
			}
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					pruneEmpty(em)
				}
			}
		}
	}
}

// mergeApplied computes the three-way merge of the live object, the newly
// applied configuration and the one recorded at the last apply, as
// kubectl's client-side apply does: a strategic merge patch from the last
// applied configuration to the new one (apimachinery's strategicpatch),
// applied to the live object. Lists are merged as the kinds' patch tags
// say, containers and env by name, ports by number.
func mergeApplied(live objects.Object, applied []byte) ([]byte, error) {
	liveJSON, err := json.Marshal(live)
	if err != nil {
		return nil, err
	}
	var last []byte
	if l := live.GetObjectMeta().Annotations[LastAppliedAnnotation]; json.Valid([]byte(l)) {
		last = []byte(l) // else damaged or absent: merge as if applied for the first time
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(live)
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateThreeWayMergePatch(last, applied, liveJSON, meta, true)
	if err != nil {
		return nil, err
	}
	return strategicpatch.StrategicMergePatchUsingLookupPatchMeta(liveJSON, patch, meta)
}

func setAnnotation(m *objects.ObjectMeta, k, v string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[k] = v
}
