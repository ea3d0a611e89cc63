package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Elastic Indexed Jobs and Indexed Jobs of many completions.

// scaleJob sets an Indexed Job's completions and parallelism together, as
// elastic Indexed Jobs allow.
func (e *env) scaleJob(name string, n int32) {
	e.t.Helper()
	e.mutate(kindJob, dkey(name), func(o objects.Object) {
		j := o.(*objects.Job)
		j.Spec.Completions, j.Spec.Parallelism = ptr(n), ptr(n)
	})
}

// activeIndexes lists the indexes of the Job's pods neither finished nor
// being deleted, in order.
func activeIndexes(tx store.ReadTx) []int {
	var out []int
	for _, p := range podsWhere(tx, func(p *objects.Pod) bool { return !p.IsTerminal() && !p.IsDeleting() }) {
		i, _ := strconv.Atoi(p.Annotations[objects.JobCompletionIndexAnnotation])
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// Scaling an elastic Indexed Job down removes the pods of the indexes
// dropped, without counting them as failed, and forgets the dropped
// indexes' successes and failures; scaling it up starts the new indexes.
func TestJobElasticIndexed(t *testing.T) {
	e := jobEnv(t)
	// Phase 0: indexes 0 and 4 succeed, 5 fails, the others run; phase
	// 1: every pod runs; phase 2: every pod succeeds.
	var phase atomic.Int32
	script := &indexScript{exit: func(i int) int32 {
		switch ph := phase.Load(); {
		case ph == 2 || (ph == 0 && (i == 0 || i == 4)):
			return 0
		case ph == 0 && i == 5:
			return 1
		}
		return -1
	}}
	script.run(e)
	j := indexedJob("elastic", 6, 6)
	j.Spec.BackoffLimitPerIndex = ptr[int32](0)
	e.create(j)
	e.waitFor("0 and 4 done, 5 failed, 1-3 running", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "elastic")
		st := j.Status
		return st.CompletedIndexes == "0,4" && st.FailedIndexes != nil && *st.FailedIndexes == "5" && st.Active == 3 &&
				len(podsWhere(tx, objects.IsPodReady)) == 3,
			fmt.Sprintf("status %+v; pods %v", st, podNames(podsWhere(tx, nil)))
	})

	phase.Store(1)

	// Completions alone may not change (validated at the door, as Apply
	// does).
	old, err := e.get(kindJob, dkey("elastic"))
	require.NoError(t, err)
	upd := old.(*objects.Job).DeepCopy()
	upd.Spec.Completions = ptr[int32](3)
	require.ErrorContains(t, e.s.Scheme().ValidateUpdate(upd, old),
		"spec.completions: Invalid value: 3: can only be modified in tandem with spec.parallelism")
	upd.Spec.Parallelism = ptr[int32](3)
	require.NoError(t, e.s.Scheme().ValidateUpdate(upd, old))

	e.scaleJob("elastic", 3)
	e.waitFor("index 3 removed; 4 and 5 forgotten", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "elastic")
		st := j.Status
		return st.CompletedIndexes == "0" && st.Succeeded == 1 && st.FailedIndexes != nil && *st.FailedIndexes == "" &&
				st.Active == 2 && slices.Equal(activeIndexes(tx), []int{1, 2}),
			fmt.Sprintf("status %+v; pods %v", st, podNames(podsWhere(tx, nil)))
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "elastic")
		require.Equal(t, int32(1), j.Status.Failed, "index 5's failure stays counted; index 3's removal is none")
		require.False(t, jobFinished(j))
		for _, p := range podsWhere(tx, nil) {
			if p.Annotations[objects.JobCompletionIndexAnnotation] == "3" {
				require.True(t, p.IsDeleting(), "pod %s of a dropped index is being deleted", p.Name)
			}
		}
	})
	require.True(t, e.events.has("Deleted pod: elastic-3-"), "events: %s", e.events)

	e.scaleJob("elastic", 8)
	e.waitFor("indexes 3-7 started", func(tx store.ReadTx) (bool, string) {
		got := activeIndexes(tx)
		return slices.Equal(got, []int{1, 2, 3, 4, 5, 6, 7}), fmt.Sprint(got, podNames(podsWhere(tx, nil)))
	})
	phase.Store(2)
	e.stopPods(func(p *objects.Pod) bool { return !p.IsTerminal() && !p.IsDeleting() }, 0)
	e.waitFor("complete", jobCondition("elastic", objects.JobComplete))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "elastic")
		require.Equal(t, "0-7", j.Status.CompletedIndexes)
		require.Equal(t, int32(8), j.Status.Succeeded)
		require.Equal(t, "", *j.Status.FailedIndexes)
		require.Equal(t, int32(1), j.Status.Failed)
	})
}

// The largest Indexed Job Kubernetes allows costs no more to reconcile
// than a small one: a billion completions, of which all but the last
// nine have succeeded, run to completion three pods at a time. Kept one
// bool per index, each reconcile would allocate a gigabyte.
func TestJobIndexedBillionCompletions(t *testing.T) {
	const completions = 1_000_000_000
	e := jobEnv(t)
	(&indexScript{exit: func(int) int32 { return 0 }}).run(e)
	j := indexedJob("huge", completions, 3)
	j.Spec.Suspend = ptr(true)
	e.create(j)
	e.waitFor("suspended", jobCondition("huge", objects.JobSuspended))
	for {
		err := e.s.Update(context.Background(), func(tx store.Tx) error {
			o, err := tx.Get(kindJob, dkey("huge"))
			if err != nil {
				return err
			}
			o.(*objects.Job).Status.CompletedIndexes = fmt.Sprintf("0-%d", completions-10)
			return tx.UpdateStatus(o)
		})
		if !errors.Is(err, store.ErrConflict) {
			require.NoError(t, err)
			break
		}
	}
	start := time.Now()
	e.mutate(kindJob, dkey("huge"), func(o objects.Object) { o.(*objects.Job).Spec.Suspend = ptr(false) })
	e.waitFor("complete", jobCondition("huge", objects.JobComplete))
	t.Logf("the last 9 indexes of %d ran in %v", completions, time.Since(start))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "huge")
		require.Equal(t, fmt.Sprintf("0-%d", completions-1), j.Status.CompletedIndexes)
		require.Equal(t, int32(completions), j.Status.Succeeded)
		var indexes []int
		for _, p := range podsWhere(tx, nil) {
			i, _ := strconv.Atoi(p.Annotations[objects.JobCompletionIndexAnnotation])
			indexes = append(indexes, i)
		}
		slices.Sort(indexes)
		want := make([]int, 9)
		for k := range want {
			want[k] = completions - 9 + k
		}
		require.Equal(t, want, indexes, "one pod for each of the last nine indexes")
	})
}

// BenchmarkJobIndexedHugeSync measures what one reconcile of an Indexed
// Job of a billion completions computes apart from the store: reading
// its status and pods, its verdict and its next indexes. Its allocations
// grow with the pods and the runs of indexes, not with completions.
func BenchmarkJobIndexedHugeSync(b *testing.B) {
	const completions, pods = 1_000_000_000, 100
	job := indexedJob("huge", completions, pods)
	job.Default()
	job.Status.CompletedIndexes = "0-499999999,500000100-999999999"
	var ps []*objects.Pod
	for i := range pods {
		p := newJobPod(job, 500_000_000+i)
		p.UID = fmt.Sprint("uid-", i)
		if i%2 == 0 {
			p.Status.Phase = objects.PodSucceeded
		} else {
			p.Status.Phase = objects.PodRunning
		}
		ps = append(ps, p)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		s := &jobState{job: job, status: *job.Status.DeepCopy(), now: now}
		s.classify(ps)
		if v, _ := s.verdict(); v.final != "" {
			b.Fatal("finished early")
		}
		if got := s.indexes.firstMissing(completions, pods); len(got) != pods/2 {
			b.Fatalf("pending %v", got)
		}
	}
}
