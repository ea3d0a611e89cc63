package store

import "github.com/podkit/podkit/objects"

// DefaultIndexes returns the field indexes every backend keeps: every kind
// by owner uid (IndexOwner) and pods by node name (IndexNodeName). A backend
// adds the host's own indexes to these.
func DefaultIndexes() []FieldIndex {
	return []FieldIndex{
		{Field: IndexOwner, Func: ownerUIDs},
		{Kind: "Pod", Field: IndexNodeName, Func: podNodeName},
	}
}

func ownerUIDs(obj objects.Object) []string {
	refs := obj.GetObjectMeta().OwnerReferences
	if len(refs) == 0 {
		return nil
	}
	uids := make([]string, len(refs))
	for i := range refs {
		uids[i] = refs[i].UID
	}
	return uids
}

// podNodeName indexes unbound pods too (value ""), so a scheduler can list
// the pods waiting for a node through the index.
func podNodeName(obj objects.Object) []string {
	p, ok := obj.(*objects.Pod)
	if !ok {
		return nil
	}
	return []string{p.Spec.NodeName}
}
