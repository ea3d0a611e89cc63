package exampleutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// Wait calls check, then again after each change to an object of kind in
// namespace (every namespace when empty), until check reports done or ctx
// ends; the error then says what check saw last. The watch starts before
// the first check, so no change between the two is missed.
func Wait(ctx context.Context, o *podkit.Orchestrator, kind, namespace string, check func() (done bool, seen string, err error)) error {
	w, err := o.Watch(ctx, kind, podkit.InNamespace(namespace))
	if err != nil {
		return err
	}
	defer func() { w.Stop() }()
	for {
		done, seen, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last seen: %s", ctx.Err(), seen)
		case _, open := <-w.Events():
			if open {
				continue
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%w; last seen: %s", ctx.Err(), seen)
			}
			// The watch fell behind: watch again; the next check reads afresh.
			w.Stop()
			if w, err = o.Watch(ctx, kind, podkit.InNamespace(namespace)); err != nil {
				return err
			}
		}
	}
}

// WaitPods blocks until cond holds for the pods of namespace matching
// selector (every pod when empty), or ctx ends.
func WaitPods(ctx context.Context, o *podkit.Orchestrator, namespace, selector string, cond func([]*objects.Pod) bool) error {
	return Wait(ctx, o, podkit.KindPod, namespace, func() (bool, string, error) {
		ps, err := podkit.List[*objects.Pod](ctx, o, namespace, podkit.WithLabels(selector))
		if err != nil {
			return false, "", err
		}
		return cond(ps), describePods(ps), nil
	})
}

func describePods(ps []*objects.Pod) string {
	if len(ps) == 0 {
		return "no pods"
	}
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", p.Name, podStatus(p))
		if p.Spec.NodeName != "" {
			fmt.Fprintf(&b, " on %s", p.Spec.NodeName)
		}
	}
	return b.String()
}

// RolloutStatus waits until a Deployment, StatefulSet or DaemonSet has
// rolled out, printing progress as `kubectl rollout status` does:
//
//	Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...
//	deployment "web" successfully rolled out
//
// obj names the workload (namespace and name) and receives its final
// state. When ctx ends first, or a Deployment exceeds its progress
// deadline, the error names the workload and says why it is stuck (see
// Explain).
func RolloutStatus(ctx context.Context, out io.Writer, o *podkit.Orchestrator, obj objects.Object) error {
	info, err := o.Scheme().SetTypeMeta(obj)
	if err != nil {
		return err
	}
	key := key(obj)
	last := ""
	var stuck error
	err = Wait(ctx, o, info.Kind, key.Namespace, func() (bool, string, error) {
		cur := info.New()
		if err := o.Get(ctx, key, cur); err != nil {
			return false, "", err
		}
		msg, done, err := rolloutStatus(cur)
		if err != nil {
			stuck = err
			return true, "", nil
		}
		if msg != last {
			fmt.Fprint(out, msg)
			last = msg
		}
		if done {
			copyInto(obj, cur)
		}
		return done, strings.TrimSpace(msg), nil
	})
	if err == nil && stuck == nil {
		return nil
	}
	if stuck != nil {
		err = stuck
	}
	return fmt.Errorf("%s did not roll out: %w%s", Ref(obj), err, because(Explain(context.WithoutCancel(ctx), o, obj)))
}

// rolloutStatus is kubectl's rollout status of a workload: the line to
// print, whether the rollout is done, or an error when it cannot finish.
func rolloutStatus(obj objects.Object) (string, bool, error) {
	switch w := obj.(type) {
	case *objects.Deployment:
		s := w.Status
		if w.Generation > s.ObservedGeneration {
			return "Waiting for deployment spec update to be observed...\n", false, nil
		}
		if c := objects.GetDeploymentCondition(&w.Status, objects.DeploymentProgressing); c != nil && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", w.Name)
		}
		want := replicas(w.Spec.Replicas)
		switch {
		case s.UpdatedReplicas < want:
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", w.Name, s.UpdatedReplicas, want), false, nil
		case s.Replicas > s.UpdatedReplicas:
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", w.Name, s.Replicas-s.UpdatedReplicas), false, nil
		case s.AvailableReplicas < s.UpdatedReplicas:
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", w.Name, s.AvailableReplicas, s.UpdatedReplicas), false, nil
		}
		return fmt.Sprintf("deployment %q successfully rolled out\n", w.Name), true, nil
	case *objects.StatefulSet:
		s := w.Status
		if w.Spec.UpdateStrategy.Type != objects.RollingUpdateStatefulSetStrategyType {
			return "", false, errors.New("rollout status is only available for RollingUpdate strategy type")
		}
		if s.ObservedGeneration == 0 || w.Generation > s.ObservedGeneration {
			return "Waiting for statefulset spec update to be observed...\n", false, nil
		}
		want := replicas(w.Spec.Replicas)
		if s.ReadyReplicas < want {
			return fmt.Sprintf("Waiting for %d pods to be ready...\n", want-s.ReadyReplicas), false, nil
		}
		if ru := w.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition > 0 {
			if s.UpdatedReplicas < want-*ru.Partition {
				return fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...\n", s.UpdatedReplicas, want-*ru.Partition), false, nil
			}
			return fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...\n", s.UpdatedReplicas), true, nil
		}
		if s.UpdateRevision != s.CurrentRevision {
			return fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...\n", s.UpdatedReplicas, s.UpdateRevision), false, nil
		}
		return fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...\n", s.CurrentReplicas, s.CurrentRevision), true, nil
	case *objects.DaemonSet:
		s := w.Status
		if w.Spec.UpdateStrategy.Type != objects.RollingUpdateDaemonSetStrategyType {
			return "", false, errors.New("rollout status is only available for RollingUpdate strategy type")
		}
		if w.Generation > s.ObservedGeneration {
			return "Waiting for daemon set spec update to be observed...\n", false, nil
		}
		switch {
		case s.UpdatedNumberScheduled < s.DesiredNumberScheduled:
			return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...\n", w.Name, s.UpdatedNumberScheduled, s.DesiredNumberScheduled), false, nil
		case s.NumberAvailable < s.DesiredNumberScheduled:
			return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...\n", w.Name, s.NumberAvailable, s.DesiredNumberScheduled), false, nil
		}
		return fmt.Sprintf("daemon set %q successfully rolled out\n", w.Name), true, nil
	}
	return "", false, fmt.Errorf("no rollout status for %T: want a Deployment, StatefulSet or DaemonSet", obj)
}

// WaitJob waits until a Job is complete, printing its progress and then
// `job.batch/NAME condition met` as `kubectl wait --for=condition=complete`
// does. The error names the Job and says why when it fails (its Failed
// condition, its pods) or ctx ends first.
func WaitJob(ctx context.Context, out io.Writer, o *podkit.Orchestrator, job *objects.Job) error {
	k := key(job)
	last := ""
	var failed *objects.JobCondition
	err := Wait(ctx, o, podkit.KindJob, k.Namespace, func() (bool, string, error) {
		cur := &objects.Job{}
		if err := o.Get(ctx, k, cur); err != nil {
			return false, "", err
		}
		s := cur.Status
		if c := objects.GetJobCondition(&s, objects.JobFailed); c != nil && c.Status == objects.ConditionTrue {
			failed = c
			*job = *cur
			return true, "", nil
		}
		if podkit.Complete(cur) {
			*job = *cur
			fmt.Fprintf(out, "job.batch/%s condition met\n", cur.Name)
			return true, "", nil
		}
		msg := fmt.Sprintf("Waiting for job %q to complete: %d of %d completions succeeded, %d active, %d failed...\n",
			cur.Name, s.Succeeded, replicas(cur.Spec.Completions), s.Active, s.Failed)
		if msg != last {
			fmt.Fprint(out, msg)
			last = msg
		}
		return false, strings.TrimSpace(msg), nil
	})
	if err == nil && failed == nil {
		return nil
	}
	if failed != nil {
		// Explain gives the Failed condition and the pods' exits.
		return fmt.Errorf("%s failed%s", Ref(job), because(Explain(context.WithoutCancel(ctx), o, job)))
	}
	return fmt.Errorf("%s did not complete: %w%s", Ref(job), err, because(Explain(context.WithoutCancel(ctx), o, job)))
}

// WaitReady waits until obj is ready as kubectl users judge it: a
// Deployment, StatefulSet or DaemonSet rolled out (RolloutStatus), a Job
// complete (WaitJob), a Pod ready; other kinds are ready when they exist.
func WaitReady(ctx context.Context, out io.Writer, o *podkit.Orchestrator, obj objects.Object) error {
	switch w := obj.(type) {
	case *objects.Deployment, *objects.StatefulSet, *objects.DaemonSet:
		return RolloutStatus(ctx, out, o, obj)
	case *objects.Job:
		return WaitJob(ctx, out, o, w)
	case *objects.Pod:
		if err := o.WaitFor(ctx, w, podkit.Available); err != nil {
			return fmt.Errorf("%s is not ready: %w%s", Ref(w), err, because(Explain(context.WithoutCancel(ctx), o, w)))
		}
		fmt.Fprintf(out, "pod/%s condition met\n", w.Name)
		return nil
	}
	if err := o.WaitFor(ctx, obj, podkit.Exists); err != nil {
		return fmt.Errorf("%s does not exist: %w", Ref(obj), err)
	}
	return nil
}

func because(why string) string {
	if why == "" {
		return ""
	}
	return "\n" + why
}

// Ref names an object as kubectl does, kind/name, with the namespace
// when it is not the default one: deployment/web, job/migrate -n batch.
func Ref(obj objects.Object) string {
	m := obj.GetObjectMeta()
	kind := obj.GetTypeMeta().Kind
	if kind == "" {
		kind = strings.TrimPrefix(fmt.Sprintf("%T", obj), "*objects.")
	}
	s := strings.ToLower(kind) + "/" + m.Name
	if m.Namespace != "" && m.Namespace != podkit.DefaultNamespace {
		s += " -n " + m.Namespace
	}
	return s
}

func key(obj objects.Object) objects.Key {
	k := obj.GetObjectMeta().Key()
	if k.Namespace == "" {
		k.Namespace = podkit.DefaultNamespace
	}
	return k
}

func copyInto(dst, src objects.Object) {
	switch d := dst.(type) {
	case *objects.Deployment:
		*d = *src.(*objects.Deployment)
	case *objects.StatefulSet:
		*d = *src.(*objects.StatefulSet)
	case *objects.DaemonSet:
		*d = *src.(*objects.DaemonSet)
	}
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// WaitSettled waits until no pod of namespace matching selector is
// terminating: after a rollout, the pods left are the ones that stay.
func WaitSettled(ctx context.Context, o *podkit.Orchestrator, namespace, selector string) error {
	err := WaitPods(ctx, o, namespace, selector, func(ps []*objects.Pod) bool {
		for _, p := range ps {
			if p.DeletionTimestamp != nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("waiting for terminating pods to go: %w", err)
	}
	return nil
}
