package policy_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/policy"
	"github.com/podkit/podkit/objects"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func denyAll(name string) *objects.NetworkPolicy {
	return &objects.NetworkPolicy{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"}}
}

// Without enforcement, policies are stored and the first one is met with
// one warning, however many there are.
func TestEngineWithoutEnforcementWarnsOnce(t *testing.T) {
	e := nettest.New(t)
	e.Create(denyAll("a"), denyAll("b"))
	var logs syncBuffer
	eng, err := policy.New(e.Store, policy.WithoutEnforcement("the test says so"),
		policy.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	assert.False(t, eng.Enforced())
	stop := nettest.RunBackground(t, eng.Run)
	nettest.Poll(t, "the warning", func() error {
		if !strings.Contains(logs.String(), "NetworkPolicies are stored but not enforced: the test says so") {
			return fmt.Errorf("logs: %q", logs.String())
		}
		return nil
	})
	e.Create(denyAll("c"))
	stop() // Run returns after its informer, which tells the engine of each policy
	assert.Equal(t, 1, strings.Count(logs.String(), "not enforced"), logs.String())
}
