package volumes

import (
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// TrustBundleSource is the capability of a Source that reads
// ClusterTrustBundles, for the clusterTrustBundle sources of projected
// volumes. A missing bundle is an error wrapping store.ErrNotFound.
type TrustBundleSource interface {
	ClusterTrustBundle(name string) (*objects.ClusterTrustBundle, error)
	ClusterTrustBundles() ([]*objects.ClusterTrustBundle, error)
}

// trustBundleFiles writes the anchors a clusterTrustBundle source names,
// as the kubelet does: those of the bundle of that name, or of every
// bundle of the signer its selector matches, each anchor once. The
// kubelet shuffles them, so that no one relies on an order; podkit sorts
// them, so that a volume synced again is not rewritten. An optional source
// that finds nothing writes an empty file.
func trustBundleFiles(pod *objects.Pod, t *objects.ClusterTrustBundleProjection, def *int32, src Source) (map[string]file, error) {
	ts, ok := src.(TrustBundleSource)
	if !ok {
		return nil, errors.New("ClusterTrustBundle projection is not supported on this node")
	}
	var bundles []*objects.ClusterTrustBundle
	switch {
	case t.Name != nil:
		b, err := ts.ClusterTrustBundle(*t.Name)
		switch {
		case errors.Is(err, store.ErrNotFound) && optional(t.Optional):
		case err != nil:
			return nil, fmt.Errorf("while getting ClusterTrustBundle: %w", err)
		default:
			bundles = append(bundles, b)
		}
	case t.SignerName != nil:
		sel, err := objects.LabelSelectorAsSelector(t.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("while parsing label selector: %w", err)
		}
		all, err := ts.ClusterTrustBundles()
		if err != nil {
			return nil, err
		}
		for _, b := range all {
			if b.Spec.SignerName == *t.SignerName && sel.Matches(b.Labels) {
				bundles = append(bundles, b)
			}
		}
		if len(bundles) == 0 && !optional(t.Optional) {
			return nil, errors.New("combination of signerName and labelSelector matched zero ClusterTrustBundles")
		}
	default:
		return nil, errors.New("ClusterTrustBundle projection requires either name or signerName to be set")
	}
	uid := t.User
	if uid == nil {
		uid = fsUser(pod)
	}
	f := file{data: trustAnchors(bundles), mode: mode(nil, def), uid: uid}
	if sc := pod.Spec.SecurityContext; uid != nil || sc != nil && sc.FSGroup != nil {
		f.mode = 0o600
	}
	return map[string]file{t.Path: f}, nil
}

// trustAnchors are the bundles' certificates, each once, sorted, as PEM.
func trustAnchors(bundles []*objects.ClusterTrustBundle) []byte {
	var ders []string
	for _, b := range bundles {
		rest := []byte(b.Spec.TrustBundle)
		for {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			ders = append(ders, string(blk.Bytes))
		}
	}
	slices.Sort(ders)
	out := []byte{}
	for _, der := range slices.Compact(ders) {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte(der)})...)
	}
	return out
}
