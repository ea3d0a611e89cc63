package podkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// PatchType says how Patch reads a patch. Its values are the media types
// Kubernetes' API names them by, as kubectl patch --type json, merge and
// strategic choose them.
type PatchType string

const (
	// JSONPatch is an RFC 6902 JSON Patch: a list of operations (add,
	// remove, replace, move, copy, test) on the paths of the object's JSON,
	// as `[{"op": "replace", "path": "/spec/replicas", "value": 5}]`. They
	// apply in order, all or none: a test that fails or a path that is not
	// there fails the patch.
	JSONPatch PatchType = "application/json-patch+json"
	// MergePatch is an RFC 7386 JSON Merge Patch: the fields it sets
	// replace the object's, null removes one, and a list is replaced whole.
	MergePatch PatchType = "application/merge-patch+json"
	// StrategicMergePatch is Kubernetes' strategic merge patch: a merge
	// patch whose lists merge item by item where the kind's patch strategy
	// says so (containers, volumes and env by name, container ports by
	// number...), with the $patch, $retainKeys, $deleteFromPrimitiveList
	// and $setElementOrder directives. A kind of the host's own merges by
	// the patchStrategy and patchMergeKey tags of its Go type, as Apply
	// does, and replaces its lists where it has none.
	StrategicMergePatch PatchType = "application/strategic-merge-patch+json"
)

// maxJSONPatchOperations and maxJSONPatchCopyBytes bound a JSON Patch as
// Kubernetes' API server bounds it by default.
const (
	maxJSONPatchOperations = 10000
	maxJSONPatchCopyBytes  = 3 << 20
)

// ErrInvalidPatch is wrapped by Patch's errors about the patch itself: a
// document of the wrong form, an operation that cannot apply, or a result
// that is no object of the kind (an unknown field, a value of the wrong
// type, another name). The patched object's validation fails as Update's
// does, with an error wrapping objects.ErrInvalid.
var ErrInvalidPatch = errors.New("invalid patch")

// PatchOption tunes a Patch.
type PatchOption func(*patchOptions)

type patchOptions struct {
	status bool
	dryRun bool
}

// PatchStatus patches the status instead, as kubectl patch --subresource
// status: the patched status is written as UpdateStatus writes it, and
// changes to the metadata and spec are ignored. Without it the patched
// metadata and spec are written as Update writes them, and changes to the
// status are ignored, as Kubernetes ignores them.
func PatchStatus() PatchOption { return func(o *patchOptions) { o.status = true } }

// PatchDryRun makes Patch write nothing, as kubectl patch
// --dry-run=server: obj receives what would be stored, after the same
// validation and admission.
func PatchDryRun() PatchOption { return func(o *patchOptions) { o.dryRun = true } }

// Patch changes the object of obj's kind with key by a patch of type pt,
// as kubectl patch and client-go's Patch do, and obj receives what was
// stored. The patch applies to the stored object as it is in the same
// transaction, so that it cannot lose another writer's change: there is
// no conflict to retry unless the patch itself sets
// metadata.resourceVersion, which must then be the stored one (else an
// error wrapping store.ErrConflict), as in Kubernetes. The
// patched object is decoded strictly: an unknown field, a value of the
// wrong type, a changed kind, name or namespace fail the patch with an
// error wrapping ErrInvalidPatch, and nothing is written. It is then
// admitted, validated and written as Update (or, with PatchStatus,
// UpdateStatus) does; a patch that changes nothing writes nothing, and
// the resourceVersion stays.
func (o *Orchestrator) Patch(ctx context.Context, key objects.Key, obj objects.Object, pt PatchType, patch []byte, opts ...PatchOption) error {
	var po patchOptions
	for _, opt := range opts {
		opt(&po)
	}
	info, err := o.scheme.SetTypeMeta(obj)
	if err != nil {
		return err
	}
	if info.Namespaced && key.Namespace == "" {
		key.Namespace = DefaultNamespace
	}
	fail := func(err error) error {
		return fmt.Errorf("patch %s %s: %w: %w", info.Kind, key, ErrInvalidPatch, err)
	}
	var result objects.Object
	err = o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Get(info.Kind, key)
		if err != nil {
			return err
		}
		if _, err := o.scheme.SetTypeMeta(cur); err != nil {
			return err
		}
		curJSON, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		patched, err := applyPatch(cur, curJSON, pt, patch)
		if err != nil {
			return fail(err)
		}
		next := info.New()
		if err := objects.UnmarshalStrict(patched, next); err != nil {
			return fail(err)
		}
		if err := samePatchTarget(info, key, next); err != nil {
			return fail(err)
		}
		if po.status {
			if err := o.scheme.ValidateStatusUpdate(next, cur); err != nil {
				return err
			}
			if err := tx.UpdateStatus(next); err != nil {
				return err
			}
		} else {
			if _, err := o.admit(ctx, tx, next, cur, po.dryRun); err != nil {
				return err
			}
			if err := tx.Update(next); err != nil {
				return err
			}
		}
		result, err = tx.Get(info.Kind, key)
		if errors.Is(err, store.ErrNotFound) {
			result, err = next, nil // the patch removed the last finalizer of a deleted object
		}
		if err != nil {
			return err
		}
		if po.dryRun {
			result.GetObjectMeta().ResourceVersion = cur.GetObjectMeta().ResourceVersion
			return errDryRun
		}
		return nil
	})
	if err != nil && !(po.dryRun && errors.Is(err, errDryRun)) {
		return err
	}
	copyInto(obj, result)
	return nil
}

// applyPatch applies patch of type pt to cur, whose JSON is curJSON, and
// returns the patched JSON.
func applyPatch(cur objects.Object, curJSON []byte, pt PatchType, patch []byte) ([]byte, error) {
	switch pt {
	case JSONPatch:
		ops, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, err
		}
		if len(ops) > maxJSONPatchOperations {
			return nil, fmt.Errorf("the allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(ops))
		}
		ao := jsonpatch.NewApplyOptions()
		ao.AccumulatedCopySizeLimit = maxJSONPatchCopyBytes
		return ops.ApplyWithOptions(curJSON, ao)
	case MergePatch:
		if err := checkPatchObject(patch); err != nil {
			return nil, err
		}
		return jsonpatch.MergePatch(curJSON, patch)
	case StrategicMergePatch:
		if err := checkPatchObject(patch); err != nil {
			return nil, err
		}
		meta, err := strategicpatch.NewPatchMetaFromStruct(cur)
		if err != nil {
			return nil, err
		}
		return strategicpatch.StrategicMergePatchUsingLookupPatchMeta(curJSON, patch, meta)
	default:
		return nil, fmt.Errorf("unsupported patch type %q: use %q, %q or %q", string(pt), JSONPatch, MergePatch, StrategicMergePatch)
	}
}

// checkPatchObject refuses a merge patch that is not a JSON object with a
// message naming the problem: one that is valid JSON would otherwise
// replace the whole object (RFC 7386), and fail later as no object.
func checkPatchObject(patch []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(patch, &m); err != nil {
		return fmt.Errorf("error decoding patch: %w", err)
	}
	if m == nil {
		return errors.New("error decoding patch: a merge patch must be a JSON object")
	}
	return nil
}

// samePatchTarget refuses a patched object that is no longer the one
// patched: another kind, name or namespace.
func samePatchTarget(info *objects.KindInfo, key objects.Key, next objects.Object) error {
	if tm := next.GetTypeMeta(); tm.APIVersion != info.APIVersion || tm.Kind != info.Kind {
		return fmt.Errorf("the patched object's apiVersion and kind (%q, %q) are not the object's (%q, %q)", tm.APIVersion, tm.Kind, info.APIVersion, info.Kind)
	}
	m := next.GetObjectMeta()
	if m.Name != key.Name {
		return fmt.Errorf("the name of the patched object (%s) does not match the name of the object (%s)", m.Name, key.Name)
	}
	if m.Namespace != key.Namespace {
		return fmt.Errorf("the namespace of the patched object (%s) does not match the namespace of the object (%s)", m.Namespace, key.Namespace)
	}
	return nil
}
