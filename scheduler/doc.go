// Package scheduler binds pending pods to nodes, as kube-scheduler does,
// inside the host program.
//
// A Scheduler watches the store. A pod is its to place when
// spec.schedulerName is empty or its name ("default-scheduler" unless
// WithSchedulerName), spec.nodeName is empty, and the pod is neither being
// deleted nor finished. Run keeps a Snapshot of the cluster (nodes, the
// pods placed on them, volumes, priority classes, namespaces, disruption
// budgets) up to date from the watch, never rebuilt per pod, and places
// pods on it:
//
//	s, err := scheduler.New(st, scheduler.WithEventRecorder(rec))
//	err = s.Run(ctx) // until ctx ends
//
// # Placing a pod
//
// Placement is a pure function of the snapshot, built from plugins
// (Kubernetes' default plugins, DefaultProfile, and a host's own through
// WithPlugins or WithProfile). Filters reject nodes and say why in words;
// scores rank the nodes that pass, each weighted; the best node wins,
// ties broken at random. A pod that fits nowhere gets PodScheduled=False,
// reason Unschedulable, with Kubernetes' message
//
//	0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.
//	preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.
//
// (each node counted under the first filter, in profile order, that
// rejects it; the reasons sorted as strings, as Kubernetes sorts them), and
// a FailedScheduling event.
//
// Binding writes, in one store transaction, the PodScheduled=True
// condition and spec.nodeName, then records a Scheduled event
// ("Successfully assigned default/web-1 to n2"). Many bindings share a
// transaction. A WaitForFirstConsumer claim of the pod is annotated with
// volume.kubernetes.io/selected-node.
//
// # Groups, and how many nodes a pod looks at
//
// Pods that placement cannot tell apart form a group: same namespace,
// labels, priority, and the spec fields the plugins read (node selector and
// affinity, pod (anti-)affinity, tolerations, spread constraints, requests,
// host ports, claims; plugins reading more implement PodKeyer). The pods of
// a ReplicaSet are one group; so are identical pods without an owner.
// PreFilter runs once per group, and what it computes (counts of matching
// pods per topology domain) is kept current as pods are placed and leave,
// instead of being recomputed per pod. When one pod of a group fits
// nowhere, the rest of its batch gets the same diagnosis without another
// search.
//
// The rule that replaces Kubernetes' percentageOfNodesToScore:
//
//   - A group whose placement depends only on the nodes and the pods on
//     each node (resources, ports, node selector and affinity, taints,
//     volumes but ReadWriteOncePod claims: no pod affinity, no spread
//     constraint, no LocalityCluster plugin) is placed from a heap of the
//     nodes it fits on, ordered by total score. The node-object part of
//     each node's score is computed once per class of pods (same node
//     constraints and requests) and node change; the resource part when
//     the node's pods change. Placing a pod re-ranks one node: O(log
//     nodes) per pod, and the pod gets the best of all nodes, as if
//     percentageOfNodesToScore were 100.
//   - Other groups are placed as Kubernetes places them: nodes are filtered
//     round-robin from where the previous search stopped until
//     Profile.PercentageOfNodesToScore of them are feasible (Kubernetes'
//     default: 50% minus 1% per 125 nodes, at least 5% and 100 nodes),
//     those are scored, the best wins. Nodes rejected for a reason more
//     pods cannot undo (resources, ports, anti-affinity) are skipped by the
//     group's later searches until a pod leaves or a node changes.
//
// Scores that Kubernetes normalizes over the candidate nodes (node
// affinity, taint preferences) are normalized over the nodes that pass the
// node-object filters, for both paths.
//
// # Unschedulable pods
//
// A pod that fits nowhere waits, as in Kubernetes' unschedulablePods, for
// something that could help to change: a node is added or changes in what
// placement reads (not a heartbeat), a pod leaves a node or finishes, a
// nominated pod stops holding room, volumes change, or, for pods rejected
// by pod affinity, spread or another LocalityCluster plugin, a pod is
// placed, a node is removed or namespace labels change. It is then tried
// again once the backoff of its last attempt (see below) has ended, at
// once if it has, as Kubernetes moves it to its activeQ or its backoffQ;
// but a scheduler with no other pod to place tries it without waiting for
// its backoff (Kubernetes' SchedulerPopFromBackoffQ). Such retries come at
// most once per 50 ms. Without such a change, it is tried 5 minutes after
// its last attempt (Kubernetes' podMaxInUnschedulablePodsDuration). A pod
// edited in what placement reads, and one whose attempt failed for an
// error (a plugin's or its binding's), is tried again when the backoff of
// its last attempt ends: 1 s doubling to 10 s per attempt (WithBackoff;
// Kubernetes' podInitialBackoff and podMaxBackoff). There is no busy loop:
// an idle scheduler waits on the watch and one timer.
//
// # Priority and preemption
//
// A pod's priority is spec.priority, else the value of its
// priorityClassName's PriorityClass (system-cluster-critical and
// system-node-critical are built in), else that of the class with
// globalDefault, else 0. Pending pods are tried in priority order.
//
// A pod that fits nowhere may preempt, as Kubernetes' DefaultPreemption
// does: on the nodes where eviction could help, it dry-runs evicting every
// pod of lower priority and keeping back every pod it still fits beside,
// first those a PodDisruptionBudget protects, then the others, each most
// important first; of the nodes where that works it picks the one with
// the fewest victims violating a budget, then whose most important victim
// has the lowest priority, then the lowest sum of priorities, the fewest
// victims, the latest started. The dry runs stop once 10% of the nodes
// where eviction could help (at least 100) are candidates, one of them
// violating no budget.
//
// On a node, the pods that may be evicted spend, most important first, the
// status.disruptionsAllowed of each budget of their namespace whose
// selector matches them (a nil or empty selector matches none here), but
// for the pods already in its status.disruptedPods; a pod that takes a
// budget below 0 violates it. As in Kubernetes, observedGeneration is not
// looked at (a budget whose status was never computed allows nothing),
// and budgets are best effort: when every node would violate one, the pod
// still preempts, on the node with the fewest violations. Victims are
// deleted, not evicted: they spend no budget.
//
// The victims get a DisruptionTarget condition and a Preempted event
// ("Preempted by pod <uid> on node n1") and are deleted gracefully with
// their own terminationGracePeriodSeconds: bound pods stay, being deleted,
// until their node agent stops them. The preemptor gets
// status.nominatedNodeName; room is held for it on that node, and it binds
// there once its victims are gone. Until the store shows its victims
// leaving, a change elsewhere does not retry it, and while pods of lower
// priority are leaving that node (its victims count from the moment they
// are chosen) it does not preempt again, as Kubernetes' preemption has it:
// it waits for the room it freed rather than evict more elsewhere. Equal
// or lower priority never preempts, nor does a pod with preemptionPolicy
// Never. As in Kubernetes, the room held for a nominated pod counts only
// against pods of equal or lower priority, and a preemption on a node
// clears the nominations of the pods of lower priority nominated there.
//
// What the scheduler decided holds until the store shows it, as in
// Kubernetes' nominator: an update of a pod that the store wrote before
// the pod's nomination (or before a preemption cleared it) was written
// changes neither its nomination nor the room held for it. When the watch
// falls behind and the scheduler lists the store again, it keeps the
// nominations still being written, the victims chosen and not yet seen
// leaving (unless the pod of that name is another, by uid), and the
// preemptors waiting for them, as Kubernetes keeps its nominations and
// preemptions in flight across a relist of its informers.
//
// # Writing plugins
//
// A plugin implements FilterPlugin, ScorePlugin or both, and optionally
// PreFilterPlugin (state computed once per group), PodObserver (keep that
// state current as pods come and go), ScoreNormalizer, PreScorer and
// Localizer. Declaring the locality lets the scheduler reuse answers: a
// LocalityNodeObject filter is asked once per class of pods and node, a
// LocalityNode one again when that node's pods change, a LocalityCluster
// one (the default) for every pod. Plugins run on the scheduler's one
// goroutine and must not block.
package scheduler
