package podkit

import (
	"github.com/podkit/podkit/objects"
)

// Deleted holds when the object does not exist.
func Deleted(obj objects.Object) bool { return obj == nil }

// Exists holds when the object exists.
func Exists(obj objects.Object) bool { return obj != nil }

// Available holds when a workload has finished rolling out, as `kubectl
// rollout status` judges it: a Deployment, ReplicaSet,
// ReplicationController, StatefulSet or DaemonSet whose controller has
// observed its latest generation and whose pods are all updated and
// available (for a StatefulSet with a partition, those at or above it
// updated); a Pod that is Ready; a Job that is Complete. For other kinds
// it holds when the object exists.
func Available(obj objects.Object) bool {
	switch o := obj.(type) {
	case nil:
		return false
	case *objects.Deployment:
		want := replicas(o.Spec.Replicas)
		s := o.Status
		return s.ObservedGeneration >= o.Generation && s.UpdatedReplicas == want &&
			s.Replicas == want && s.AvailableReplicas == want
	case *objects.ReplicaSet:
		want := replicas(o.Spec.Replicas)
		s := o.Status
		return s.ObservedGeneration >= o.Generation && s.Replicas == want && s.AvailableReplicas == want
	case *objects.ReplicationController:
		want := replicas(o.Spec.Replicas)
		s := o.Status
		return s.ObservedGeneration >= o.Generation && s.Replicas == want && s.AvailableReplicas == want
	case *objects.StatefulSet:
		want := replicas(o.Spec.Replicas)
		s := o.Status
		if s.ObservedGeneration < o.Generation || s.ReadyReplicas != want || s.AvailableReplicas != want {
			return false
		}
		if o.Spec.UpdateStrategy.Type == objects.OnDeleteStatefulSetStrategyType {
			return true
		}
		if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition > 0 {
			return s.UpdatedReplicas >= want-*ru.Partition // "partitioned roll out complete"
		}
		return s.UpdatedReplicas == want && s.UpdateRevision == s.CurrentRevision
	case *objects.DaemonSet:
		s := o.Status
		return s.ObservedGeneration >= o.Generation && s.UpdatedNumberScheduled == s.DesiredNumberScheduled &&
			s.NumberAvailable == s.DesiredNumberScheduled
	case *objects.Pod:
		return objects.IsPodReady(o)
	case *objects.Job:
		return jobCondition(o, objects.JobComplete)
	}
	return true
}

// Complete holds when a Job has the Complete condition.
func Complete(obj objects.Object) bool {
	j, ok := obj.(*objects.Job)
	return ok && jobCondition(j, objects.JobComplete)
}

// Failed holds when a Job has the Failed condition or a Pod is in phase
// Failed.
func Failed(obj objects.Object) bool {
	switch o := obj.(type) {
	case *objects.Job:
		return jobCondition(o, objects.JobFailed)
	case *objects.Pod:
		return o.Status.Phase == objects.PodFailed
	}
	return false
}

// Running holds when a Pod is in phase Running.
func Running(obj objects.Object) bool {
	p, ok := obj.(*objects.Pod)
	return ok && p.Status.Phase == objects.PodRunning
}

func jobCondition(j *objects.Job, t objects.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == objects.ConditionTrue {
			return true
		}
	}
	return false
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
