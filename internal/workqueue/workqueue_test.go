package workqueue

import (
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 5 * time.Second

func TestDeduplicates(t *testing.T) {
	q := New[string](Options{})
	defer q.ShutDown()
	q.Add("a")
	q.Add("b")
	q.Add("a")
	require.Equal(t, 2, q.Len())
	item, _ := q.Get()
	require.Equal(t, "a", item)
	// Added while held: queued again only on Done.
	q.Add("a")
	require.Equal(t, 1, q.Len())
	q.Done("a")
	require.Equal(t, 2, q.Len())
	item, _ = q.Get()
	require.Equal(t, "b", item)
	q.Done("b")
	item, _ = q.Get()
	require.Equal(t, "a", item)
	q.Done("a")
	require.Equal(t, 0, q.Len())
}

func TestNeverTwoWorkersOnOneItem(t *testing.T) {
	q := New[int](Options{})
	var (
		mu     sync.Mutex
		active = map[int]bool{}
		wg     sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				item, shutdown := q.Get()
				if shutdown {
					return
				}
				mu.Lock()
				if active[item] {
					t.Errorf("item %d held by two workers", item)
				}
				active[item] = true
				mu.Unlock()
				mu.Lock()
				active[item] = false
				mu.Unlock()
				q.Done(item)
			}
		}()
	}
	for i := 0; i < 10000; i++ {
		q.Add(i % 7)
	}
	require.Eventually(t, func() bool { return q.Len() == 0 }, wait, time.Millisecond)
	q.ShutDown()
	wg.Wait()
}

func TestAddAfterUsesClock(t *testing.T) {
	clk := clockwork.NewFakeClock()
	q := New[string](Options{Clock: clk})
	defer q.ShutDown()
	q.AddAfter("late", time.Minute)
	q.AddAfter("late", 2*time.Minute) // the earlier time stands
	require.Equal(t, 1, q.Waiting())
	clk.Advance(59 * time.Second)
	require.Equal(t, 0, q.Len())
	clk.Advance(time.Second)
	require.Eventually(t, func() bool { return q.Len() == 1 }, wait, time.Millisecond)
	require.Equal(t, 0, q.Waiting())

	q.AddAfter("now", 0)
	require.Equal(t, 2, q.Len())
}

func TestAddAfterEarlierReplaces(t *testing.T) {
	clk := clockwork.NewFakeClock()
	q := New[string](Options{Clock: clk})
	defer q.ShutDown()
	q.AddAfter("x", time.Hour)
	q.AddAfter("x", time.Second)
	clk.Advance(time.Second)
	require.Eventually(t, func() bool { return q.Len() == 1 }, wait, time.Millisecond)
	clk.Advance(time.Hour)
	require.Equal(t, 0, q.Waiting())
}

func TestBackoffDoublesUntilForget(t *testing.T) {
	clk := clockwork.NewFakeClock()
	q := New[string](Options{BackoffClock: clk, BaseDelay: time.Second, MaxDelay: 10 * time.Second})
	defer q.ShutDown()
	for i, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		q.AddRateLimited("k")
		require.Equal(t, i+1, q.NumRequeues("k"))
		clk.Advance(want*time.Second - time.Millisecond)
		require.Equal(t, 0, q.Len(), "retry %d came early", i)
		clk.Advance(time.Millisecond)
		require.Eventually(t, func() bool { return q.Len() == 1 }, wait, time.Millisecond)
		item, _ := q.Get()
		q.Done(item)
	}
	q.Forget("k")
	require.Equal(t, 0, q.NumRequeues("k"))
	require.Equal(t, time.Second, q.backoff(0))
}

func TestShutDownReleasesGet(t *testing.T) {
	clk := clockwork.NewFakeClock()
	q := New[string](Options{Clock: clk})
	q.AddAfter("x", time.Minute)
	done := make(chan bool)
	go func() {
		_, shutdown := q.Get()
		done <- shutdown
	}()
	q.ShutDown()
	select {
	case shutdown := <-done:
		require.True(t, shutdown)
	case <-time.After(wait):
		t.Fatal("Get did not return after ShutDown")
	}
	require.True(t, q.ShuttingDown())
	require.Equal(t, 0, q.Waiting())
	q.Add("y")
	require.Equal(t, 0, q.Len())
	q.ShutDown()
}
