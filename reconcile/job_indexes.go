package reconcile

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/podkit/podkit/objects"
)

// The indexes of an Indexed Job: the sets of succeeded and failed indexes,
// and the per-index backoff limit (spec.backoffLimitPerIndex).

// interval is a run of completion indexes, first to last included.
type interval struct{ first, last int }

// intervals is a set of completion indexes, kept as Kubernetes writes
// status.completedIndexes and status.failedIndexes ("1,3-5,7", a run of two
// as "1,2"): sorted runs, disjoint and not adjacent. An Indexed Job may
// have up to MaxInt32 completions, so nothing here costs memory or time
// per index: parsing, formatting, merging and lookups are proportional to
// the number of runs (and, for merges, of the indexes added).
type intervals []interval

// parseIntervals reads a list of indexes, keeping those below
// completions, as Kubernetes' controller does: a malformed run is skipped,
// and a run reaching past completions is cut short. Runs out of order or
// overlapping (a status written by hand) are sorted and merged.
func parseIntervals(s string, completions int) intervals {
	var iv intervals
	sorted := true
	for s != "" {
		var part string
		part, s, _ = strings.Cut(s, ",")
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a >= completions {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				continue
			}
			b = min(b, completions-1)
		}
		if n := len(iv); n > 0 && a <= iv[n-1].last+1 {
			if a < iv[n-1].first {
				sorted = false
			} else {
				iv[n-1].last = max(iv[n-1].last, b)
				continue
			}
		}
		iv = append(iv, interval{a, b})
	}
	if !sorted {
		slices.SortFunc(iv, func(x, y interval) int { return x.first - y.first })
		iv = iv.union(nil)
	}
	return iv
}

// fromIndexes makes a set of the indexes given, in any order, with
// repeats; it sorts them in place.
func fromIndexes(ixs []int) intervals {
	slices.Sort(ixs)
	var iv intervals
	for _, i := range ixs {
		if n := len(iv); n > 0 && i <= iv[n-1].last+1 {
			iv[n-1].last = max(iv[n-1].last, i)
			continue
		}
		iv = append(iv, interval{i, i})
	}
	return iv
}

// union returns the indexes in iv or o (both sorted), merging runs that
// overlap or touch.
func (iv intervals) union(o intervals) intervals {
	out := make(intervals, 0, len(iv)+len(o))
	push := func(r interval) {
		if n := len(out); n > 0 && r.first <= out[n-1].last+1 {
			out[n-1].last = max(out[n-1].last, r.last)
			return
		}
		out = append(out, r)
	}
	i, j := 0, 0
	for i < len(iv) || j < len(o) {
		if j == len(o) || (i < len(iv) && iv[i].first <= o[j].first) {
			push(iv[i])
			i++
		} else {
			push(o[j])
			j++
		}
	}
	return out
}

// with returns iv with the indexes added (which it sorts in place).
func (iv intervals) with(ixs ...int) intervals {
	if len(ixs) == 0 {
		return iv
	}
	return iv.union(fromIndexes(ixs))
}

func (iv intervals) has(i int) bool {
	k := sort.Search(len(iv), func(k int) bool { return iv[k].last >= i })
	return k < len(iv) && iv[k].first <= i
}

// total is how many indexes the set holds.
func (iv intervals) total() int {
	n := 0
	for _, r := range iv {
		n += r.last - r.first + 1
	}
	return n
}

// common is how many indexes iv and o share.
func (iv intervals) common(o intervals) int {
	n := 0
	for i, j := 0, 0; i < len(iv) && j < len(o); {
		if lo, hi := max(iv[i].first, o[j].first), min(iv[i].last, o[j].last); lo <= hi {
			n += hi - lo + 1
		}
		if iv[i].last < o[j].last {
			i++
		} else {
			j++
		}
	}
	return n
}

// firstMissing returns up to count indexes below limit that the set does
// not hold, lowest first.
func (iv intervals) firstMissing(limit, count int) []int {
	var out []int
	next := 0
	for _, r := range iv {
		if next >= limit || len(out) == count {
			break
		}
		for ; next < min(r.first, limit) && len(out) < count; next++ {
			out = append(out, next)
		}
		next = max(next, r.last+1)
	}
	for ; next < limit && len(out) < count; next++ {
		out = append(out, next)
	}
	return out
}

func (iv intervals) String() string {
	var b strings.Builder
	for _, r := range iv {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.first))
		switch {
		case r.last == r.first+1:
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(r.last))
		case r.last > r.first:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.last))
		}
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
	var newly []int
	for _, p := range failed {
		if i, ok := podCompletionIndex(p, completions); ok && pi.indexFailed(s, p) {
			newly = append(newly, i)
		}
	}
	pi.failed = parseIntervals(prev, completions).with(newly...)
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
