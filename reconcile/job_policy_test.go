package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Tests of the Job policies: podFailurePolicy, podReplacementPolicy,
// backoffLimitPerIndex, maxFailedIndexes, successPolicy, managedBy.

// stopPod makes the pod's containers exit with code at now, as its node
// agent reports it, keeping the conditions others set (DisruptionTarget).
func stopPod(p *objects.Pod, code int32, now time.Time) {
	kept := slices.DeleteFunc(slices.Clone(p.Status.Conditions), func(c objects.PodCondition) bool {
		return c.Type == objects.PodReady
	})
	phase := objects.PodSucceeded
	if code != 0 {
		phase = objects.PodFailed
	}
	finishPod(p, phase, now)
	for i := range p.Status.ContainerStatuses {
		p.Status.ContainerStatuses[i].State.Terminated.ExitCode = code
	}
	p.Status.Conditions = append(kept, p.Status.Conditions...)
}

// stopPods stops the pods keep accepts, as stopPod does.
func (e *env) stopPods(keep func(p *objects.Pod) bool, code int32) {
	e.t.Helper()
	var keys []objects.Key
	viewT(e.t, e.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, keep) {
			keys = append(keys, p.Key())
		}
	})
	require.NotEmpty(e.t, keys)
	for _, k := range keys {
		e.mutateStatusPod(k, func(p *objects.Pod) { stopPod(p, code, e.clock.Now()) })
	}
}

// boundJob is a Job whose pods are bound to a node from the start, so
// that they are deleted gracefully and terminate until stopped.
func boundJob(name string, completions, parallelism int32) *objects.Job {
	j := newJob(name, completions, parallelism)
	j.Spec.Template.Spec.NodeName = "n1"
	return j
}

func jobStatus(name string, ok func(st *objects.JobStatus) bool) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, name)
		if j == nil {
			return false, "no job"
		}
		return ok(&j.Status), fmt.Sprintf("status %+v; pods %v", j.Status, podNames(podsWhere(tx, nil)))
	}
}

func readyPods(n int) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, objects.IsPodReady)
		return len(pods) == n, fmt.Sprint(podNames(podsWhere(tx, nil)))
	}
}

func sortedPods(tx store.ReadTx, keep func(p *objects.Pod) bool) []*objects.Pod {
	pods := podsWhere(tx, keep)
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods
}

func condition(j *objects.Job, t objects.JobConditionType) *objects.JobCondition {
	c := objects.GetJobCondition(&j.Status, t)
	if c == nil || c.Status != objects.ConditionTrue {
		return nil
	}
	return c
}

// An exit code that a FailJob rule matches fails the Job at once, whatever
// its backoffLimit: FailureTarget first, with Kubernetes' message, and
// Failed once the running pods it deletes have terminated; they count as
// failed.
func TestJobPodFailurePolicyFailJob(t *testing.T) {
	e := jobEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	j := boundJob("fj", 3, 3)
	j.Spec.Template.Spec.Containers[0].Name = "main"
	j.Spec.PodFailurePolicy = &objects.PodFailurePolicy{Rules: []objects.PodFailurePolicyRule{
		{Action: objects.PodFailurePolicyActionIgnore, OnPodConditions: []objects.PodFailurePolicyOnPodConditionsPattern{{Type: objects.DisruptionTarget}}},
		{Action: objects.PodFailurePolicyActionFailJob, OnExitCodes: &objects.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: ptr("main"), Operator: objects.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
	}}
	e.create(j)
	e.waitFor("3 running", readyPods(3))
	var failing objects.Key
	viewT(t, e.s, func(tx store.ReadTx) { failing = sortedPods(tx, nil)[0].Key() })
	e.mutateStatusPod(failing, func(p *objects.Pod) { stopPod(p, 42, e.clock.Now()) })

	want := fmt.Sprintf("Container main for pod default/%s failed with exit code 42 matching FailJob rule at index 1", failing.Name)
	e.waitFor("FailureTarget, 2 terminating", jobStatus("fj", func(st *objects.JobStatus) bool {
		return objects.GetJobCondition(st, objects.JobFailureTarget) != nil && st.Terminating != nil && *st.Terminating == 2
	}))
	e.reconcileNow("job", Request{Namespace: "default", Name: "fj"})
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "fj")
		c := condition(j, objects.JobFailureTarget)
		require.NotNil(t, c)
		require.Equal(t, JobReasonPodFailurePolicy, c.Reason)
		require.Equal(t, want, c.Message)
		require.Nil(t, objects.GetJobCondition(&j.Status, objects.JobFailed), "not Failed while its pods terminate")
		require.Equal(t, int32(3), j.Status.Failed, "the failed pod and the two being terminated")
		require.Equal(t, int32(0), j.Status.Active)
		require.Len(t, podsWhere(tx, nil), 3, "no retry")
		require.Len(t, podsWhere(tx, func(p *objects.Pod) bool { return len(p.Finalizers) > 0 }), 0, "every pod counted and let go")
	})
	// Their node agent stops them.
	e.stopPods(podTerminating, 143)
	e.waitFor("failed", jobCondition("fj", objects.JobFailed))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "fj")
		c := condition(j, objects.JobFailed)
		require.Equal(t, JobReasonPodFailurePolicy, c.Reason)
		require.Equal(t, want, c.Message)
		require.Equal(t, int32(3), j.Status.Failed, "counted once")
		require.Equal(t, int32(0), *j.Status.Terminating)
		require.Nil(t, j.Status.CompletionTime)
	})
	require.True(t, e.events.has("Warning fj PodFailurePolicy: "+want), e.events.String())
}

// A pod evicted (DisruptionTarget) that an Ignore rule matches does not
// count towards backoffLimit 0; with a pod failure policy it counts only
// once it has finished, and is replaced only then.
func TestJobPodFailurePolicyIgnoresDisruption(t *testing.T) {
	e := jobEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	j := boundJob("tolerant", 1, 1)
	j.Spec.BackoffLimit = ptr[int32](0)
	j.Spec.PodFailurePolicy = &objects.PodFailurePolicy{Rules: []objects.PodFailurePolicyRule{
		{Action: objects.PodFailurePolicyActionIgnore, OnPodConditions: []objects.PodFailurePolicyOnPodConditionsPattern{{Type: objects.DisruptionTarget}}},
	}}
	e.create(j)
	e.waitFor("running", readyPods(1))
	var first *objects.Pod
	viewT(t, e.s, func(tx store.ReadTx) {
		first = podsWhere(tx, nil)[0]
		require.Equal(t, objects.FailedPodReplacement, *getJob(tx, "tolerant").Spec.PodReplacementPolicy, "defaulted with a pod failure policy")
	})
	require.NoError(t, Evict(context.Background(), e.s, first.Key(), EvictOptions{Clock: e.clock}))

	e.waitFor("terminating", jobStatus("tolerant", func(st *objects.JobStatus) bool {
		return st.Terminating != nil && *st.Terminating == 1 && st.Active == 0
	}))
	e.clock.Advance(time.Minute)
	e.reconcileNow("job", Request{Namespace: "default", Name: "tolerant"})
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "tolerant")
		require.False(t, jobFinished(j))
		require.Equal(t, int32(0), j.Status.Failed, "not failed while terminating")
		require.Len(t, podsWhere(tx, nil), 1, "not replaced while terminating")
	})

	// Its node agent stops it; the failure is ignored and the pod
	// replaced after the backoff.
	e.mutateStatusPod(first.Key(), func(p *objects.Pod) { stopPod(p, 143, e.clock.Now()) })
	e.waitFor("failure ignored", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, func(p *objects.Pod) bool { return p.UID == first.UID && len(p.Finalizers) == 0 })
		return len(pods) == 1, fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	e.waitDelayed("job")
	e.clock.Advance(JobBackoffBase)
	e.waitFor("replacement running", readyPods(1))
	e.stopPods(objects.IsPodReady, 0)
	e.waitFor("complete", jobCondition("tolerant", objects.JobComplete))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "tolerant")
		require.Equal(t, int32(0), j.Status.Failed)
		require.Equal(t, int32(1), j.Status.Succeeded)
		require.Nil(t, objects.GetJobCondition(&j.Status, objects.JobFailed))
	})
}

// podReplacementPolicy Failed waits for a deleted pod to finish before
// counting and replacing it; TerminatingOrFailed does both at once.
func TestJobPodReplacementPolicy(t *testing.T) {
	for _, policy := range []objects.PodReplacementPolicy{objects.FailedPodReplacement, objects.TerminatingOrFailedPodReplacement} {
		t.Run(string(policy), func(t *testing.T) {
			e := jobEnv(t)
			e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
			j := boundJob("rp", 1, 1)
			j.Spec.PodReplacementPolicy = ptr(policy)
			e.create(j)
			e.waitFor("running", readyPods(1))
			var old *objects.Pod
			viewT(t, e.s, func(tx store.ReadTx) { old = podsWhere(tx, nil)[0] })
			require.NoError(t, e.s.Update(context.Background(), func(tx store.Tx) error {
				_, err := tx.Delete(kindPod, old.Key(), store.DeleteOptions{GracePeriodSeconds: ptr[int64](30)})
				return err
			}))
			e.waitFor("terminating", jobStatus("rp", func(st *objects.JobStatus) bool {
				return st.Terminating != nil && *st.Terminating == 1 && st.Active == 0
			}))
			replaced := func(tx store.ReadTx) (bool, string) {
				pods := podsWhere(tx, nil)
				return len(pods) == 2, fmt.Sprint(podNames(pods))
			}
			if policy == objects.FailedPodReplacement {
				e.clock.Advance(time.Minute)
				e.reconcileNow("job", Request{Namespace: "default", Name: "rp"})
				viewT(t, e.s, func(tx store.ReadTx) {
					require.Equal(t, int32(0), getJob(tx, "rp").Status.Failed, "not failed until it finishes")
					require.Len(t, podsWhere(tx, nil), 1, "not replaced until it finishes")
				})
				e.mutateStatusPod(old.Key(), func(p *objects.Pod) { stopPod(p, 143, e.clock.Now()) })
			}
			e.waitFor("failure counted", jobStatus("rp", func(st *objects.JobStatus) bool { return st.Failed == 1 }))
			e.waitDelayed("job")
			e.clock.Advance(JobBackoffBase)
			e.waitFor("replaced", replaced)
			viewT(t, e.s, func(tx store.ReadTx) {
				o := podsWhere(tx, func(p *objects.Pod) bool { return p.UID == old.UID })
				require.Len(t, o, 1)
				require.Equal(t, policy == objects.TerminatingOrFailedPodReplacement, podTerminating(o[0]),
					"replaced while still terminating only with TerminatingOrFailed")
			})
		})
	}
}

// indexScript plays the node agents of an Indexed Job's pods: exit gives
// each index's exit code (-1: keep running); it records every pod seen.
type indexScript struct {
	mu   sync.Mutex
	exit func(index int) int32
	seen map[string]*objects.Pod // by name, as first seen
}

func (s *indexScript) run(e *env) {
	s.seen = map[string]*objects.Pod{}
	e.runPodScript(func(p *objects.Pod) bool {
		if p.IsTerminal() || p.IsDeleting() {
			return false
		}
		i, err := strconv.Atoi(p.Annotations[objects.JobCompletionIndexAnnotation])
		if err != nil {
			return false
		}
		s.mu.Lock()
		if _, ok := s.seen[p.Name]; !ok {
			s.seen[p.Name] = p.DeepCopy()
		}
		s.mu.Unlock()
		if code := s.exit(i); code >= 0 {
			stopPod(p, code, e.clock.Now())
			return true
		}
		return makeReady(p, e.clock.Now())
	})
}

// indexes lists the indexes of the pods seen, in order, with repeats.
func (s *indexScript) indexes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.seen {
		out = append(out, p.Annotations[objects.JobCompletionIndexAnnotation])
	}
	sort.Strings(out)
	return out
}

func indexedJob(name string, completions, parallelism int32) *objects.Job {
	j := newJob(name, completions, parallelism)
	j.Spec.CompletionMode = ptr(objects.IndexedCompletion)
	return j
}

// backoffLimitPerIndex retries each index on its own: an index over its
// limit, or whose pod matched a FailIndex rule, fails and is not retried
// while the others complete; the Job then fails with failedIndexes.
func TestJobBackoffLimitPerIndex(t *testing.T) {
	e := jobEnv(t)
	script := &indexScript{exit: func(i int) int32 {
		switch i {
		case 1:
			return 3 // FailIndex
		case 2:
			return 1 // counted
		}
		return 0
	}}
	script.run(e)
	j := indexedJob("per-index", 4, 4)
	j.Spec.BackoffLimitPerIndex = ptr[int32](1)
	j.Spec.PodFailurePolicy = &objects.PodFailurePolicy{Rules: []objects.PodFailurePolicyRule{
		{Action: objects.PodFailurePolicyActionFailIndex, OnExitCodes: &objects.PodFailurePolicyOnExitCodesRequirement{
			Operator: objects.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}}},
	}}
	e.create(j)

	e.waitFor("index 1 failed, 0 and 3 done, 2 waiting", jobStatus("per-index", func(st *objects.JobStatus) bool {
		return st.FailedIndexes != nil && *st.FailedIndexes == "1" && st.CompletedIndexes == "0,3"
	}))
	e.waitDelayed("job")
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "per-index")
		require.False(t, jobFinished(j))
		require.Equal(t, int32(1), j.Status.Failed, "index 2's failed pod is kept, uncounted, for its replacement")
		require.Len(t, podsWhere(tx, nil), 4, "index 2 backs off")
		require.Equal(t, int32(math32Max), *j.Spec.BackoffLimit, "unlimited with backoffLimitPerIndex")
	})
	e.clock.Advance(JobBackoffBase)
	e.waitFor("failed", jobCondition("per-index", objects.JobFailed))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "per-index")
		c := condition(j, objects.JobFailed)
		require.Equal(t, JobReasonFailedIndexes, c.Reason)
		require.Equal(t, "Job has failed indexes", c.Message)
		require.NotNil(t, condition(j, objects.JobFailureTarget))
		require.Equal(t, "1,2", *j.Status.FailedIndexes)
		require.Equal(t, "0,3", j.Status.CompletedIndexes)
		require.Equal(t, int32(2), j.Status.Succeeded)
		require.Equal(t, int32(3), j.Status.Failed, "index 1 once, index 2 twice")
		counts := map[string][]string{}
		for _, p := range sortedPods(tx, nil) {
			require.Empty(t, p.Finalizers, "pod %s let go", p.Name)
			idx := p.Annotations[objects.JobCompletionIndexAnnotation]
			counts[idx] = append(counts[idx], p.Annotations[objects.JobIndexFailureCountAnnotation])
		}
		sort.Strings(counts["2"])
		require.Equal(t, map[string][]string{"0": {"0"}, "1": {"0"}, "2": {"0", "1"}, "3": {"0"}}, counts,
			"each pod carries its index's failure count")
	})
	require.Equal(t, []string{"0", "1", "2", "2", "3"}, script.indexes(), "index 1 is not retried, index 2 once")
}

const math32Max = 1<<31 - 1

// More failed indexes than maxFailedIndexes fail the Job at once, before
// the other indexes run.
func TestJobMaxFailedIndexes(t *testing.T) {
	e := jobEnv(t)
	script := &indexScript{exit: func(i int) int32 {
		if i < 3 {
			return 1
		}
		return -1
	}}
	script.run(e)
	j := indexedJob("fragile", 6, 2)
	j.Spec.BackoffLimitPerIndex = ptr[int32](0)
	j.Spec.MaxFailedIndexes = ptr[int32](1)
	e.create(j)
	e.waitFor("failed", jobCondition("fragile", objects.JobFailed))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "fragile")
		c := condition(j, objects.JobFailed)
		require.Equal(t, JobReasonMaxFailedIndexesExceeded, c.Reason)
		require.Equal(t, "Job has exceeded the specified maximal number of failed indexes", c.Message)
		failed, err := objects.ValidateIndexesFormat(*j.Status.FailedIndexes, 6)
		require.NoError(t, err)
		require.GreaterOrEqual(t, failed, int32(2), "failedIndexes %q", *j.Status.FailedIndexes)
		require.Empty(t, podsWhere(tx, func(p *objects.Pod) bool { return !p.IsTerminal() }), "no pod runs on")
	})
	for _, i := range script.indexes() {
		require.Contains(t, []string{"0", "1", "2"}, i, "indexes 3 to 5 never ran")
	}
}

// A success policy met completes the Job early: SuccessCriteriaMet first,
// the other pods terminated (no failures), then Complete.
func TestJobSuccessPolicy(t *testing.T) {
	e := jobEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	j := boundJob("leader", 5, 5)
	j.Spec.CompletionMode = ptr(objects.IndexedCompletion)
	j.Spec.SuccessPolicy = &objects.SuccessPolicy{Rules: []objects.SuccessPolicyRule{
		{SucceededCount: ptr[int32](3)},
		{SucceededIndexes: ptr("0")},
	}}
	e.create(j)
	e.waitFor("5 running", readyPods(5))
	e.stopPods(func(p *objects.Pod) bool { return p.Annotations[objects.JobCompletionIndexAnnotation] == "0" }, 0)
	e.waitFor("success criteria met, 4 terminating", jobStatus("leader", func(st *objects.JobStatus) bool {
		return objects.GetJobCondition(st, objects.JobSuccessCriteriaMet) != nil && st.Terminating != nil && *st.Terminating == 4
	}))
	e.reconcileNow("job", Request{Namespace: "default", Name: "leader"})
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "leader")
		c := condition(j, objects.JobSuccessCriteriaMet)
		require.Equal(t, JobReasonSuccessPolicy, c.Reason)
		require.Equal(t, "Matched rules at index 1", c.Message)
		require.Nil(t, objects.GetJobCondition(&j.Status, objects.JobComplete), "not Complete while its pods terminate")
		require.Nil(t, j.Status.CompletionTime)
	})
	e.stopPods(podTerminating, 143)
	e.waitFor("complete", jobCondition("leader", objects.JobComplete))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "leader")
		c := condition(j, objects.JobComplete)
		require.Equal(t, JobReasonSuccessPolicy, c.Reason)
		require.Equal(t, "Matched rules at index 1", c.Message)
		require.NotNil(t, j.Status.CompletionTime)
		require.Equal(t, "0", j.Status.CompletedIndexes)
		require.Equal(t, int32(1), j.Status.Succeeded)
		require.Equal(t, int32(0), j.Status.Failed, "pods terminated by a success are no failures")
		require.Equal(t, int32(0), *j.Status.Terminating)
		require.Len(t, podsWhere(tx, nil), 5, "none replaced")
	})
}

// A Job that names another controller in spec.managedBy is left alone.
func TestJobManagedByAnotherController(t *testing.T) {
	e := jobEnv(t)
	j := newJob("external", 1, 1)
	j.Spec.ManagedBy = ptr("example.com/batch")
	e.create(j)
	e.reconcileNow("job", Request{Namespace: "default", Name: "external"})
	viewT(t, e.s, func(tx store.ReadTx) {
		require.Empty(t, podsWhere(tx, nil))
		require.Equal(t, objects.JobStatus{}, getJob(tx, "external").Status)
	})

	own := newJob("own", 1, 1)
	own.Spec.ManagedBy = ptr(objects.JobControllerName)
	e.create(own)
	e.waitFor("pod created", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, nil)
		return len(pods) == 1, fmt.Sprint(podNames(pods))
	})
}

func TestMatchPodFailurePolicy(t *testing.T) {
	pod := func(conds []objects.PodCondition, init, app map[string]int32) *objects.Pod {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "job-abc"}}
		p.Status.Phase = objects.PodFailed
		p.Status.Conditions = conds
		for _, set := range []struct {
			m   map[string]int32
			out *[]objects.ContainerStatus
		}{{init, &p.Status.InitContainerStatuses}, {app, &p.Status.ContainerStatuses}} {
			names := make([]string, 0, len(set.m))
			for n := range set.m {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				*set.out = append(*set.out, objects.ContainerStatus{Name: n, State: objects.ContainerState{
					Terminated: &objects.ContainerStateTerminated{ExitCode: set.m[n]}}})
			}
		}
		return p
	}
	exits := func(action objects.PodFailurePolicyAction, op objects.PodFailurePolicyOnExitCodesOperator, container string, values ...int32) objects.PodFailurePolicyRule {
		r := objects.PodFailurePolicyRule{Action: action, OnExitCodes: &objects.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}
		if container != "" {
			r.OnExitCodes.ContainerName = &container
		}
		return r
	}
	conds := func(action objects.PodFailurePolicyAction, t objects.PodConditionType, s objects.ConditionStatus) objects.PodFailurePolicyRule {
		return objects.PodFailurePolicyRule{Action: action, OnPodConditions: []objects.PodFailurePolicyOnPodConditionsPattern{{Type: t, Status: s}}}
	}
	const (
		in    = objects.PodFailurePolicyOnExitCodesOpIn
		notIn = objects.PodFailurePolicyOnExitCodesOpNotIn
		fail  = objects.PodFailurePolicyActionFailJob
		ign   = objects.PodFailurePolicyActionIgnore
		count = objects.PodFailurePolicyActionCount
		idx   = objects.PodFailurePolicyActionFailIndex
	)
	disrupted := []objects.PodCondition{{Type: objects.DisruptionTarget, Status: objects.ConditionTrue}}
	cases := []struct {
		name       string
		rules      []objects.PodFailurePolicyRule
		pod        *objects.Pod
		wantAction objects.PodFailurePolicyAction
		wantMsg    string
	}{
		{"no rules", nil, pod(nil, nil, map[string]int32{"main": 1}), "", ""},
		{"exit code In, second rule", []objects.PodFailurePolicyRule{exits(ign, in, "", 7), exits(fail, in, "", 42)},
			pod(nil, nil, map[string]int32{"main": 42}), fail,
			"Container main for pod default/job-abc failed with exit code 42 matching FailJob rule at index 1"},
		{"first match wins", []objects.PodFailurePolicyRule{exits(count, notIn, "", 0), exits(fail, in, "", 42)},
			pod(nil, nil, map[string]int32{"main": 42}), count, ""},
		{"exit code 0 never matches", []objects.PodFailurePolicyRule{exits(fail, notIn, "", 5)},
			pod(nil, nil, map[string]int32{"main": 0}), "", ""},
		{"NotIn", []objects.PodFailurePolicyRule{exits(fail, notIn, "", 1, 2)},
			pod(nil, nil, map[string]int32{"a": 1, "b": 9}), fail,
			"Container b for pod default/job-abc failed with exit code 9 matching FailJob rule at index 0"},
		{"container name restricts", []objects.PodFailurePolicyRule{exits(fail, in, "sidecar", 42)},
			pod(nil, nil, map[string]int32{"main": 42}), "", ""},
		{"init containers after app containers", []objects.PodFailurePolicyRule{exits(fail, in, "", 3, 4)},
			pod(nil, map[string]int32{"setup": 3}, map[string]int32{"main": 4}), fail,
			"Container main for pod default/job-abc failed with exit code 4 matching FailJob rule at index 0"},
		{"init container", []objects.PodFailurePolicyRule{exits(idx, in, "setup", 3)},
			pod(nil, map[string]int32{"setup": 3}, nil), idx, ""},
		{"condition", []objects.PodFailurePolicyRule{exits(fail, in, "", 42), conds(fail, objects.DisruptionTarget, objects.ConditionTrue)},
			pod(disrupted, nil, map[string]int32{"main": 143}), fail,
			"Pod default/job-abc has condition DisruptionTarget matching FailJob rule at index 1"},
		{"condition status differs", []objects.PodFailurePolicyRule{conds(ign, objects.DisruptionTarget, objects.ConditionFalse)},
			pod(disrupted, nil, nil), "", ""},
		{"condition ignored", []objects.PodFailurePolicyRule{conds(ign, objects.DisruptionTarget, objects.ConditionTrue)},
			pod(disrupted, nil, nil), ign, ""},
		{"unknown action skipped", []objects.PodFailurePolicyRule{exits("Retry", in, "", 1), exits(count, in, "", 1)},
			pod(nil, nil, map[string]int32{"main": 1}), count, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var pfp *objects.PodFailurePolicy
			if c.rules != nil {
				pfp = &objects.PodFailurePolicy{Rules: c.rules}
			}
			action, msg := matchPodFailurePolicy(pfp, c.pod)
			require.Equal(t, c.wantAction, action)
			require.Equal(t, c.wantMsg, msg)
		})
	}
}

func TestMatchSuccessPolicy(t *testing.T) {
	cases := []struct {
		name      string
		rules     []objects.SuccessPolicyRule
		succeeded string
		want      string // "" when not met
	}{
		{"nothing succeeded", []objects.SuccessPolicyRule{{SucceededCount: ptr[int32](0)}}, "", ""},
		{"count", []objects.SuccessPolicyRule{{SucceededCount: ptr[int32](3)}}, "0,2,5", "Matched rules at index 0"},
		{"count not reached", []objects.SuccessPolicyRule{{SucceededCount: ptr[int32](4)}}, "0,2,5", ""},
		{"indexes", []objects.SuccessPolicyRule{{SucceededIndexes: ptr("7")}, {SucceededIndexes: ptr("1-3")}}, "0-3", "Matched rules at index 1"},
		{"indexes not all", []objects.SuccessPolicyRule{{SucceededIndexes: ptr("1-4")}}, "0-3", ""},
		{"count within indexes", []objects.SuccessPolicyRule{{SucceededIndexes: ptr("1-4"), SucceededCount: ptr[int32](3)}}, "1,3,5", ""},
		{"count within indexes met", []objects.SuccessPolicyRule{{SucceededIndexes: ptr("1-4"), SucceededCount: ptr[int32](2)}}, "1,3,5", "Matched rules at index 0"},
		{"unparsable indexes skipped", []objects.SuccessPolicyRule{{SucceededIndexes: ptr("x")}, {SucceededCount: ptr[int32](1)}}, "4", "Matched rules at index 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := indexedJob("j", 10, 1)
			j.Spec.SuccessPolicy = &objects.SuccessPolicy{Rules: c.rules}
			iv := parseIntervals(c.succeeded, 10)
			msg, ok := matchSuccessPolicy(j, &iv)
			require.Equal(t, c.want != "", ok)
			require.Equal(t, c.want, msg)
		})
	}
}
