// Package podkit embeds Kubernetes-style container orchestration in a Go
// program. The host registers nodes, submits objects (Pod, Deployment,
// Service, StatefulSet, DaemonSet, Job, ConfigMap, Secret, ... as Go structs
// or as ordinary Kubernetes YAML), and podkit's loops run as goroutines in
// the host process.
//
// # Packages
//
//   - podkit (this package): the Orchestrator, the entry point. New, Run,
//     Apply/Create/Update/UpdateStatus/Patch/Delete, Get/List/Watch and their typed
//     forms Get[T] and List[T], WaitFor with conditions, RegisterNode, node
//     maintenance (Cordon, Drain, and Evict, which honour
//     PodDisruptionBudgets as Kubernetes' eviction API does), events, and
//     the host's own admission hooks (WithAdmission), in process where
//     Kubernetes calls webhooks.
//   - objects: the kinds as Go structs with Kubernetes' JSON names, resource
//     quantities, label selectors, validation and defaulting, the Scheme of
//     kinds, and strict decoding of manifests (objects.DecodeYAML).
//   - store: the Store contract (transactions, optimistic concurrency,
//     finalizers, watches from a revision); store/memdb is the default
//     backend on hashicorp/go-memdb; store/bolt is memdb made durable, every
//     commit written to a bbolt file first, for a host that must find its
//     objects after a restart or a crash; store/etcd keeps them in an etcd
//     cluster, served by one orchestrator at a time while others stand
//     by; store/storetest holds the conformance suites every backend
//     runs.
//   - runtime: the contract between node agents and container runtimes (pod
//     sandboxes, containers, images; logs, exec, stats and in-place
//     resource updates as optional interfaces).
//   - scheduler, reconcile, network: placement, controllers and node agents,
//     and service networking.
//   - rbac: Kubernetes' RBAC authorizer over the Roles and bindings in the
//     store, for the host to authorize its own users (Orchestrator.Authorize);
//     podkit has no API server, so nothing inside it is authorized. Pods
//     that call the host's own API prove who they are with service account
//     tokens, as in Kubernetes: the node agents mount them (a projected
//     serviceAccountToken volume source), Orchestrator.CreateToken issues
//     them, and Orchestrator.ReviewToken authenticates them as the users
//     RBAC knows (system:serviceaccount:NAMESPACE:NAME).
//   - examples: programs a newcomer runs with go run.
//
// # Data flow
//
// Apply validates and defaults objects and commits them to the store in one
// transaction. Every commit gets the next global revision, and watchers (the
// scheduler, the controllers, the node agents, and the host itself) see the
// changes in revision order. Controllers turn Deployments into ReplicaSets
// into Pods, the scheduler binds pods to nodes, and each node's agent makes
// its runtime run the pods bound to it, reporting status back to the store.
//
// # Admission
//
// Every write, the host's and the controllers' (a ReplicaSet's pods, a
// StatefulSet's claims), passes the admission Kubernetes' plugins give it,
// inside the write's store transaction: a new pod runs as a
// ServiceAccount that exists and gets its PriorityClass's priority; a new
// Ingress its default class; the namespace's LimitRanges give a new pod's
// containers their default requests and limits and refuse a pod or claim
// outside their bounds; last, the namespace's ResourceQuotas refuse what
// would exceed them and are charged in the same transaction, so that
// concurrent creates cannot overspend a quota (the ResourceQuota
// controller frees what deleted and finished objects used). A refusal
// wraps ErrForbidden and reads as Kubernetes' (`pods "web-1" is
// forbidden: exceeded quota: compute, requested: pods=1, used: pods=2,
// limited: pods=2`); a ReplicaSet records it as a FailedCreate event and
// tries again. A namespace without LimitRanges or quotas pays two empty
// lookups per pod.
//
// ValidatingAdmissionPolicies and their bindings
// (admissionregistration.k8s.io/v1) are applied as kube-apiserver applies
// them, after the built-in admission and before the host's validating
// hooks (WithAdmission), to the same writes: their CEL expressions are
// compiled and evaluated with Kubernetes' own CEL libraries and admission
// variables (k8s.io/apiserver), reading the objects as the JSON they are
// stored as. A policy's expressions are compiled when it is written, and
// one that does not compile is refused with its field named. A refusal
// reads "ValidatingAdmissionPolicy 'NAME' with binding 'BINDING' denied
// request: ..." (PolicyDeniedError) and wraps objects.ErrInvalid, or
// ErrPolicyDenied for the other reasons and for a policy that cannot be
// applied under failurePolicy Fail. The Warn action's warnings go to the
// writer (WarningsTo), the Audit action and the audit annotations to the
// log. The authorizer variable checks by the RBAC
// objects the write commits with: the writes have no user, so the
// requester has no rights of its own, and authorizer.serviceAccount(ns,
// name) checks an account's. The expressions are not type-checked against
// the kinds' schemas (status.typeChecking stays empty). Without a binding,
// a write pays one empty lookup.
//
// MutatingAdmissionPolicies and their bindings are applied to the same
// creates and updates, before the host's mutating hooks, in the order of
// their bindings' names: a JSON Patch mutation is applied as RFC 6902
// says (a failed test operation leaves the object as it was); an apply
// configuration is merged as server-side apply merges it, maps field by
// field and the lists Kubernetes merges by key (containers by name...)
// item by item, new items after the object's own; a policy with
// reinvocationPolicy IfNeeded is applied once more when a later policy
// changed the object. The result is decoded strictly (a mutation adding
// an unknown field fails), defaulted and validated as the write itself;
// a failure under failurePolicy Fail refuses the write with "policy
// 'NAME' with binding 'BINDING' denied request: ..." (objects.ErrInvalid).
//
// # Example
//
//	o, err := podkit.New(podkit.WithLogger(slog.Default()))
//	if err != nil { ... }
//	defer o.Close()
//	go o.Run(ctx)
//
//	objs, err := objects.DecodeYAML(file) // strict: unknown fields are errors
//	if err != nil { ... }
//	if err := o.Apply(ctx, objs...); err != nil { ... } // all or nothing
//
//	deps, err := podkit.List[*objects.Deployment](ctx, o, "default", podkit.WithLabels("app=web"))
package podkit
