package nodeagent_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// containerConfig returns the configuration the latest container of pod
// named container was created with.
func containerConfig(t *testing.T, rt *fake.Runtime, pod, container string) runtime.ContainerConfig {
	t.Helper()
	creates := rt.Records(fake.OpCreateContainer, fake.Container("default", pod, container))
	if len(creates) == 0 {
		t.Fatalf("container %s of pod %s was never created", container, pod)
	}
	id := creates[len(creates)-1].ID
	for _, c := range rt.Configs() {
		if c.ID == id {
			return c.Config
		}
	}
	t.Fatalf("container %s of pod %s (%s) is gone", container, pod, id)
	return runtime.ContainerConfig{}
}

func envOf(cfg runtime.ContainerConfig) map[string]string {
	env := map[string]string{}
	for _, v := range cfg.Env {
		env[v.Name] = v.Value
	}
	return env
}

func TestEnvFromAndFieldRefs(t *testing.T) {
	e := newEnv(t, envOpt{})
	yes := true
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "app-config", Namespace: "default"},
		Data: map[string]string{"LOG_LEVEL": "debug", "MODE": "fast", "9lives": "not a variable name"}}
	secret := &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "db-creds", Namespace: "default"},
		Data: map[string][]byte{"user": []byte("admin"), "password": []byte("s3cret"), "9lives": []byte("a name once prefixed")}}
	p := e.pod("envy", "app")
	p.Labels["tier"] = "web"
	c := &p.Spec.Containers[0]
	c.EnvFrom = []objects.EnvFromSource{
		{ConfigMapRef: &objects.ConfigMapEnvSource{LocalObjectReference: objects.LocalObjectReference{Name: "app-config"}}},
		{Prefix: "DB_", SecretRef: &objects.SecretEnvSource{LocalObjectReference: objects.LocalObjectReference{Name: "db-creds"}}},
		{ConfigMapRef: &objects.ConfigMapEnvSource{LocalObjectReference: objects.LocalObjectReference{Name: "no-such-config"}, Optional: &yes}},
		{Prefix: "GONE_", SecretRef: &objects.SecretEnvSource{LocalObjectReference: objects.LocalObjectReference{Name: "no-such-secret"}, Optional: &yes}},
	}
	field := func(name, path string) objects.EnvVar {
		return objects.EnvVar{Name: name, ValueFrom: &objects.EnvVarSource{FieldRef: &objects.ObjectFieldSelector{FieldPath: path}}}
	}
	c.Env = []objects.EnvVar{
		{Name: "MODE", Value: "slow"}, // env overrides envFrom
		field("POD_IP", "status.podIP"),
		field("NODE", "spec.nodeName"),
		field("UID", "metadata.uid"),
		field("NAMESPACE", "metadata.namespace"),
		field("TIER", "metadata.labels['tier']"),
		field("NO_LABEL", "metadata.labels['nope']"),
		{Name: "URL", Value: "http://$(POD_IP):8080/$(NAMESPACE)"},
	}
	e.create(cm, secret, p)
	pod := e.waitPod("envy", "running", running)

	env := envOf(containerConfig(t, e.rt, "envy", "app"))
	want := map[string]string{
		"LOG_LEVEL": "debug", "MODE": "slow", "DB_user": "admin", "DB_password": "s3cret", "DB_9lives": "a name once prefixed",
		"POD_IP": pod.Status.PodIP, "NODE": "n1", "UID": pod.UID, "NAMESPACE": "default", "TIER": "web", "NO_LABEL": "",
		"URL": "http://" + pod.Status.PodIP + ":8080/default",
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("env %s = %q (set %v), want %q", k, got, ok, v)
		}
	}
	if pod.Status.PodIP == "" || pod.UID == "" {
		t.Errorf("pod IP %q, uid %q: want both set", pod.Status.PodIP, pod.UID)
	}
	// A key that is no variable name is left out, as are optional sources
	// that do not exist.
	for k := range env {
		if k == "9lives" || strings.HasPrefix(k, "GONE_") {
			t.Errorf("env %s is set", k)
		}
	}
}

func TestEnvFromMissingConfigMapWaits(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.pod("waits", "app")
	p.Spec.Containers[0].EnvFrom = []objects.EnvFromSource{{Prefix: "CFG_",
		ConfigMapRef: &objects.ConfigMapEnvSource{LocalObjectReference: objects.LocalObjectReference{Name: "later"}}}}
	e.create(p)
	pod := e.waitPod("waits", "in CreateContainerConfigError", waiting("app", "CreateContainerConfigError"))
	if msg := containerStatus(pod, "app").State.Waiting.Message; msg != `configmap "later" not found` {
		t.Errorf("message = %q", msg)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "waits"))); n != 0 {
		t.Errorf("%d containers created without their ConfigMap", n)
	}
	e.create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "later", Namespace: "default"}, Data: map[string]string{"k": "v"}})
	e.waitPod("waits", "running once the ConfigMap exists", running)
	if got := envOf(containerConfig(t, e.rt, "waits", "app"))["CFG_k"]; got != "v" {
		t.Errorf("CFG_k = %q, want v", got)
	}
}

// The kubelet's mapping of requests and limits to what a runtime enforces.
func TestResourceLimitsReachTheRuntime(t *testing.T) {
	e := newEnv(t, envOpt{})
	q := objects.MustParseQuantity
	p := e.pod("sized", "both", "limits", "none")
	p.Spec.Containers[0].Resources = objects.ResourceRequirements{
		Requests: objects.ResourceList{objects.ResourceCPU: q("250m"), objects.ResourceMemory: q("64Mi")},
		Limits:   objects.ResourceList{objects.ResourceCPU: q("500m"), objects.ResourceMemory: q("128Mi")},
	}
	p.Spec.Containers[1].Resources = objects.ResourceRequirements{
		Limits: objects.ResourceList{objects.ResourceCPU: q("2"), objects.ResourceMemory: q("1Gi")},
	}
	e.create(p)
	e.waitPod("sized", "running", running)
	for name, want := range map[string]runtime.Resources{
		"both":   {CPUShares: 256, CPUQuotaMillis: 500, MemoryLimitBytes: 128 << 20},
		"limits": {CPUShares: 2048, CPUQuotaMillis: 2000, MemoryLimitBytes: 1 << 30}, // the request defaults to the limit
		"none":   {CPUShares: 2},                                                     // the kernel's minimum weight
	} {
		if got := containerConfig(t, e.rt, "sized", name).Resources; got != want {
			t.Errorf("container %s: resources %+v, want %+v", name, got, want)
		}
	}
}

// sandboxDNS is a runtime that keeps the resolver configuration each pod's
// latest sandbox was given.
type sandboxDNS struct {
	*fake.Runtime
	mu  sync.Mutex
	dns map[string]runtime.DNSConfig // by pod name
}

func (r *sandboxDNS) RunSandbox(ctx context.Context, cfg *runtime.SandboxConfig) (string, error) {
	r.mu.Lock()
	r.dns[cfg.PodName] = cfg.DNS
	r.mu.Unlock()
	return r.Runtime.RunSandbox(ctx, cfg)
}

func (r *sandboxDNS) of(pod string) runtime.DNSConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dns[pod]
}

// Pods get the resolver configuration the kubelet gives them: for
// ClusterFirst the cluster's nameservers and search domains followed by
// the host's; for Default the host's; dnsConfig added to either.
func TestPodDNSConfig(t *testing.T) {
	rt := &sandboxDNS{dns: map[string]runtime.DNSConfig{}}
	host := runtime.DNSConfig{Servers: []string{"192.0.2.53"}, Searches: []string{"corp.example"}, Options: []string{"timeout:1"}}
	e := newEnv(t, envOpt{
		wrap:  func(f *fake.Runtime) runtime.Runtime { rt.Runtime = f; return rt },
		agent: []nodeagent.Option{nodeagent.WithClusterDNS("cluster.example", "10.96.0.10"), nodeagent.WithHostDNS(host)},
	})
	first := e.pod("first", "app")
	def := e.pod("def", "app")
	def.Spec.DNSPolicy = objects.DNSDefault
	extra := e.pod("extra", "app")
	two := "2"
	extra.Spec.DNSConfig = &objects.PodDNSConfig{Nameservers: []string{"192.0.2.99"}, Options: []objects.PodDNSConfigOption{{Name: "ndots", Value: &two}}}
	e.create(first, def, extra)
	for _, name := range []string{"first", "def", "extra"} {
		e.waitPod(name, "Running and Ready", running)
	}
	cluster := []string{"default.svc.cluster.example", "svc.cluster.example", "cluster.example", "corp.example"}
	for pod, want := range map[string]runtime.DNSConfig{
		"first": {Servers: []string{"10.96.0.10"}, Searches: cluster, Options: []string{"ndots:5"}},
		"def":   host,
		"extra": {Servers: []string{"10.96.0.10", "192.0.2.99"}, Searches: cluster, Options: []string{"ndots:2"}},
	} {
		if got := rt.of(pod); !reflect.DeepEqual(got, want) {
			t.Errorf("pod %s: resolver %+v, want %+v", pod, got, want)
		}
	}
}
