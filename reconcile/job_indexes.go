package reconcile

import (
	"strconv"
	"strings"
	"time"

	"github.com/podkit/podkit/objects"
)

// The indexes of an Indexed Job: the sets of succeeded and failed indexes,
// and the per-index backoff limit (spec.backoffLimitPerIndex).

// intervals is a set of completion indexes, written as Kubernetes writes
// status.completedIndexes and status.failedIndexes: "1,3-5,7", a run of
// two as "1,2".
type intervals struct {
	done []bool
	n    int
}

func parseIntervals(s string, completions int) intervals {
	iv := intervals{done: make([]bool, completions)}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < completions; i++ {
			iv.add(i)
		}
	}
	return iv
}

func (iv *intervals) add(i int) {
	if i >= 0 && i < len(iv.done) && !iv.done[i] {
		iv.done[i] = true
		iv.n++
	}
}

func (iv *intervals) has(i int) bool { return iv != nil && i >= 0 && i < len(iv.done) && iv.done[i] }

func (iv *intervals) total() int {
	if iv == nil {
		return 0
	}
	return iv.n
}

func (iv *intervals) String() string {
	var b strings.Builder
	for i := 0; i < len(iv.done); i++ {
		if !iv.done[i] {
			continue
		}
		j := i
		for j+1 < len(iv.done) && iv.done[j+1] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i))
		switch {
		case j == i+1:
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(j))
		case j > i:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(j))
		}
		i = j
	}
	return b.String()
}

// perIndex is what a reconcile of an Indexed Job with backoffLimitPerIndex
// computes about its indexes.
type perIndex struct {
	limit  int32
	failed intervals
	// delayed holds, for each index that is neither finished nor running,
	// its latest failed pod: it keeps its tracking finalizer, uncounted,
	// until its replacement exists, which takes its failure count from it
	// (Kubernetes delays the pod's deletion for the same reason).
	delayed map[int]*objects.Pod
}

// newPerIndex finds the failed indexes, those of status.failedIndexes and
// those of the failed pods not yet counted (over their index's backoff
// limit, or matching a FailIndex rule), and the pods kept for their
// index's replacement.
func newPerIndex(s *jobState, failed []*objects.Pod) *perIndex {
	job := s.job
	completions := int(*job.Spec.Completions)
	pi := &perIndex{limit: *job.Spec.BackoffLimitPerIndex, delayed: map[int]*objects.Pod{}}
	prev := ""
	if job.Status.FailedIndexes != nil {
		prev = *job.Status.FailedIndexes
	}
	pi.failed = parseIntervals(prev, completions)
	for _, p := range failed {
		if i, ok := podCompletionIndex(p, completions); ok && pi.indexFailed(s, p) {
			pi.failed.add(i)
		}
	}
	running := map[int]bool{}
	for _, p := range s.active {
		if i, ok := podCompletionIndex(p, completions); ok {
			running[i] = true
		}
	}
	for _, p := range failed {
		i, ok := podCompletionIndex(p, completions)
		if !ok || s.indexes.has(i) || pi.failed.has(i) || running[i] {
			continue
		}
		last := pi.delayed[i]
		if last == nil || (indexAttempts(last) <= indexAttempts(p) && !podFinishTime(p).Before(podFinishTime(last))) {
			pi.delayed[i] = p
		}
	}
	return pi
}

// indexFailed reports whether the failed pod fails its index.
func (pi *perIndex) indexFailed(s *jobState, p *objects.Pod) bool {
	switch s.failureAction(p) {
	case objects.PodFailurePolicyActionFailIndex:
		return true
	case objects.PodFailurePolicyActionIgnore:
		return false
	}
	failures, _ := indexFailureCounts(p)
	return failures >= pi.limit
}

// isDelayed reports whether p is kept for its index's replacement.
func (pi *perIndex) isDelayed(p *objects.Pod, completions int) bool {
	if pi == nil {
		return false
	}
	i, ok := podCompletionIndex(p, completions)
	return ok && pi.delayed[i] != nil && pi.delayed[i].UID == p.UID
}

// annotate gives a new pod of index i its index's failure counts: those of
// the pod it replaces, plus that pod's own failure.
func (pi *perIndex) annotate(s *jobState, p *objects.Pod, i int) {
	var failures, ignored int32
	if prev := pi.delayed[i]; prev != nil {
		failures, ignored = indexFailureCounts(prev)
		if s.failureAction(prev) == objects.PodFailurePolicyActionIgnore {
			ignored++
		} else {
			failures++
		}
	}
	p.Annotations[objects.JobIndexFailureCountAnnotation] = strconv.Itoa(int(failures))
	if ignored > 0 {
		p.Annotations[objects.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
	}
}

// backoffRemaining is how long index i must still wait before its next
// pod: 10s after its first failure, doubling with each failure of the
// index (ignored ones too), at most JobBackoffMax, counted from when its
// latest pod failed.
func (pi *perIndex) backoffRemaining(i int, now time.Time) time.Duration {
	prev := pi.delayed[i]
	if prev == nil {
		return 0
	}
	delay := JobBackoffBase
	for n := indexAttempts(prev) + 1; n > 1 && delay < JobBackoffMax; n-- {
		delay *= 2
	}
	return max(0, podFinishTime(prev).Add(min(delay, JobBackoffMax)).Sub(now))
}

// indexFailureCounts reads a pod's index failure counts from its
// annotations; a missing or malformed one counts 0, as in Kubernetes.
func indexFailureCounts(p *objects.Pod) (failures, ignored int32) {
	read := func(key string) int32 {
		n, err := strconv.ParseInt(p.Annotations[key], 10, 32)
		if err != nil || n < 0 {
			return 0
		}
		return int32(n)
	}
	return read(objects.JobIndexFailureCountAnnotation), read(objects.JobIndexIgnoredFailureCountAnnotation)
}

// indexAttempts is how many pods of p's index failed before p.
func indexAttempts(p *objects.Pod) int32 {
	f, i := indexFailureCounts(p)
	return f + i
}
