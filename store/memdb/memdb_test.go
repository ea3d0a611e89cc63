package memdb_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/memdbtest"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
	"github.com/podkit/podkit/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newStore(t *testing.T, o storetest.Options) store.Store {
	s, err := memdb.New(memdbtest.Options(o)...)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
}

func TestOptions(t *testing.T) {
	for name, opt := range map[string]memdb.Option{
		"nil scheme":         memdb.WithScheme(nil),
		"nil clock":          memdb.WithClock(nil),
		"negative history":   memdb.WithHistory(-1),
		"zero buffer":        memdb.WithWatchBuffer(0),
		"index without func": memdb.WithIndex(store.FieldIndex{Kind: "Pod", Field: "spec.x"}),
		"index twice":        memdb.WithIndex(store.DefaultIndexes()[1]),
	} {
		_, err := memdb.New(opt)
		require.Error(t, err, name)
	}
	s, err := memdb.New()
	require.NoError(t, err)
	require.NotNil(t, s.Scheme().Lookup("Pod"), "the default scheme holds the built-in kinds")
	require.NoError(t, s.Close())
}
