package reconcile

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

func newStoreForTest(t *testing.T) store.Store {
	s, err := memdb.New()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}
