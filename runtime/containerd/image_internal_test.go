package containerd

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/containerd/containerd/v2/core/images"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/runtime"
)

// The progress of a pull sums the blobs fetched against the blobs known,
// as a manifest's children become known, and a failed fetch adds nothing.
func TestPullProgressSumsBlobs(t *testing.T) {
	manifest := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:m", Size: 100}
	config := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: "sha256:c", Size: 50}
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: "sha256:l", Size: 1000}
	broken := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: "sha256:x", Size: 7}
	fetch := images.HandlerFunc(func(_ context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		switch d.Digest {
		case manifest.Digest:
			return []ocispec.Descriptor{config, layer, broken}, nil
		case broken.Digest:
			return nil, errors.New("connection reset")
		}
		return nil, nil
	})
	var (
		mu      sync.Mutex
		reports []runtime.PullProgress
	)
	h := progressHandler(func(p runtime.PullProgress) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, p)
	})(fetch)
	err := images.Dispatch(context.Background(), h, nil, manifest)
	require.ErrorContains(t, err, "connection reset")

	require.NotEmpty(t, reports)
	var maxCur, maxTot int64
	for _, p := range reports {
		assert.LessOrEqual(t, p.Current, p.Total, "%+v", p)
		maxCur, maxTot = max(maxCur, p.Current), max(maxTot, p.Total)
	}
	assert.Equal(t, int64(100+50+1000+7), maxTot, "every blob known")
	assert.Equal(t, int64(100+50+1000), maxCur, "every blob fetched but the broken one")
	assert.Equal(t, runtime.PullProgress{Status: "Fetching sha256:m", Current: 0, Total: 100}, reports[0])
}
