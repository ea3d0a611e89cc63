package nodeagent_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

func TestMissingSecretKeyWaitsThenStarts(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.pod("needs-secret", "app")
	p.Spec.Containers[0].Env = []objects.EnvVar{
		{Name: "PLAIN", Value: "x-$(POD_NAME)"},
		{Name: "POD_NAME", ValueFrom: &objects.EnvVarSource{FieldRef: &objects.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "GREETING", Value: "hello $(POD_NAME) $$(POD_NAME)"},
		{Name: "PASSWORD", ValueFrom: &objects.EnvVarSource{SecretKeyRef: &objects.SecretKeySelector{LocalObjectReference: objects.LocalObjectReference{Name: "db"}, Key: "password"}}},
		{Name: "CPU", ValueFrom: &objects.EnvVarSource{ResourceFieldRef: &objects.ResourceFieldSelector{Resource: "limits.cpu"}}},
	}
	secret := &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "db", Namespace: "default"}, Data: map[string][]byte{"user": []byte("admin")}}
	svc := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "db-svc", Namespace: "default"},
		Spec: objects.ServiceSpec{ClusterIP: "10.96.0.5", Ports: []objects.ServicePort{{Name: "pg", Port: 5432, Protocol: objects.ProtocolTCP}}}}
	e.create(secret, svc, p)
	pod := e.waitPod("needs-secret", "waiting in CreateContainerConfigError", waiting("app", "CreateContainerConfigError"))
	if msg := containerStatus(pod, "app").State.Waiting.Message; msg != "couldn't find key password in Secret default/db" {
		t.Errorf("message = %q", msg)
	}
	if pod.Status.Phase != objects.PodPending {
		t.Errorf("phase = %s, want Pending", pod.Status.Phase)
	}
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Secret", objects.Key{Namespace: "default", Name: "db"})
		if err != nil {
			return err
		}
		s := o.(*objects.Secret)
		s.Data["password"] = []byte("s3cret")
		return tx.Update(s)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitPod("needs-secret", "running once the key exists", running)
	creates := e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "needs-secret"))
	if len(creates) != 1 {
		t.Fatalf("%d creates", len(creates))
	}
	env := containerEnv(t, e.rt, creates[0].ID)
	for k, want := range map[string]string{"PLAIN": "x-$(POD_NAME)", "POD_NAME": "needs-secret",
		"GREETING": "hello needs-secret $(POD_NAME)", "PASSWORD": "s3cret", "CPU": "4",
		"DB_SVC_SERVICE_HOST": "10.96.0.5", "DB_SVC_SERVICE_PORT": "5432", "DB_SVC_SERVICE_PORT_PG": "5432",
		"DB_SVC_PORT": "tcp://10.96.0.5:5432", "DB_SVC_PORT_5432_TCP_ADDR": "10.96.0.5"} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}
}

// A hostNetwork pod's status.podIP is the node's IP, in its status and in
// its containers' environment alike, as the kubelet gives containers the
// IPs the pod's status reports.
func TestHostNetworkPodIPEnv(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.pod("hostnet", "app")
	p.Spec.HostNetwork = true
	p.Spec.Containers[0].Env = []objects.EnvVar{
		{Name: "POD_IP", ValueFrom: &objects.EnvVarSource{FieldRef: &objects.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "HOST_IP", ValueFrom: &objects.EnvVarSource{FieldRef: &objects.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
	}
	e.create(p)
	pod := e.waitPod("hostnet", "running", running)
	if pod.Status.PodIP != "192.168.0.10" {
		t.Errorf("status.podIP = %q, want the node's IP 192.168.0.10", pod.Status.PodIP)
	}
	creates := e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "hostnet"))
	if len(creates) != 1 {
		t.Fatalf("%d creates", len(creates))
	}
	env := containerEnv(t, e.rt, creates[0].ID)
	if env["POD_IP"] != pod.Status.PodIP || env["HOST_IP"] != pod.Status.HostIP {
		t.Errorf("env POD_IP=%q HOST_IP=%q, want the status' %q and %q", env["POD_IP"], env["HOST_IP"], pod.Status.PodIP, pod.Status.HostIP)
	}
}

// containerEnv reads the environment a container was created with.
func containerEnv(t *testing.T, rt *fake.Runtime, id string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, c := range rt.Configs() {
		if c.ID == id {
			for _, v := range c.Config.Env {
				env[v.Name] = v.Value
			}
			return env
		}
	}
	t.Fatalf("no container %s", id)
	return nil
}

func TestInitContainersRunInOrder(t *testing.T) {
	e := newEnv(t, envOpt{})
	for _, img := range []string{"init-a", "init-b"} {
		e.rt.Script(fake.Image("registry.local/"+img+":1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})
	}
	p := e.pod("inits", "app")
	p.Spec.InitContainers = []objects.Container{{Name: "init-a", Image: "registry.local/init-a:1"}, {Name: "init-b", Image: "registry.local/init-b:1"}}
	e.create(p)
	pod := e.waitPod("inits", "running", running)
	var order []string
	for _, r := range e.rt.Records(fake.OpStartContainer, fake.Pod("default", "inits")) {
		order = append(order, r.Container)
	}
	if strings.Join(order, ",") != "init-a,init-b,app" {
		t.Errorf("start order %v", order)
	}
	for _, n := range []string{"init-a", "init-b"} {
		if cs := containerStatus(pod, n); cs.State.Terminated == nil || cs.State.Terminated.Reason != "Completed" || !cs.Ready {
			t.Errorf("init container %s: %+v", n, cs)
		}
	}
}

func TestFailingInitContainerFailsANeverPod(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/bad-init:1"), fake.Behavior{Exit: &fake.Exit{Code: 1}})
	p := e.pod("badinit", "app")
	p.Spec.RestartPolicy = objects.RestartPolicyNever
	p.Spec.InitContainers = []objects.Container{{Name: "bad-init", Image: "registry.local/bad-init:1"}}
	e.create(p)
	pod := e.waitPod("badinit", "Failed", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodFailed })
	if cs := containerStatus(pod, "app"); cs.State.Waiting == nil || cs.State.Waiting.Reason != "PodInitializing" {
		t.Errorf("app container of a pod whose init failed: %+v", cs)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", "badinit", "app"))); n != 0 {
		t.Errorf("app container created %d times after its init container failed", n)
	}
}

func TestImagePullErrorsAndPolicies(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	remove := e.rt.Inject(fake.Fault{Op: fake.OpPullImage, Match: fake.Image("registry.local/app:1")})
	e.create(e.pod("pull", "app"))
	// ErrImagePull first; any sync within the back-off then reports
	// ImagePullBackOff (and the first may be gone before the test looks).
	e.waitPod("pull", "ErrImagePull", func(p *objects.Pod) bool {
		return waiting("app", "ErrImagePull")(p) || waiting("app", "ImagePullBackOff")(p)
	})
	e.wantEvents("Failed: Error: ErrImagePull", 1)
	e.fake.Advance(time.Second)
	touch(t, e, "pull") // a pod update syncs it

	e.waitPod("pull", "ImagePullBackOff", waiting("app", "ImagePullBackOff"))
	remove()
	e.advance(baseTimers+1, 10*time.Second)
	e.waitPod("pull", "running after the registry came back", running)
	if n := len(e.rt.Records(fake.OpPullImage, fake.Image("registry.local/app:1"))); n != 2 {
		t.Errorf("%d pulls, want 2 (one failed, one after the back-off)", n)
	}

	never := e.pod("never", "absent")
	never.Spec.Containers[0].ImagePullPolicy = objects.PullNever
	e.create(never)
	e.waitPod("never", "ErrImageNeverPull", waiting("absent", "ErrImageNeverPull"))
}

// touch updates a pod's annotations, which syncs it.
func touch(t *testing.T, e *env, name string) {
	t.Helper()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: name})
		if err != nil {
			return err
		}
		p := o.(*objects.Pod)
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations["touched"] = p.Annotations["touched"] + "x"
		return tx.Update(p)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func deletePod(t *testing.T, s store.Store, name string, grace int64) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Pod", objects.Key{Namespace: "default", Name: name}, store.DeleteOptions{GracePeriodSeconds: &grace})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGracefulDeletion(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	e.rt.Script(fake.Image("registry.local/stubborn:1"), fake.Behavior{IgnoreSIGTERM: true})
	p := e.pod("bye", "app", "stubborn")
	p.Spec.Containers[0].Lifecycle = &objects.Lifecycle{PreStop: &objects.LifecycleHandler{Exec: &objects.ExecAction{Command: []string{"print", "draining"}}}}
	e.create(p)
	e.waitPod("bye", "running", running)
	deletePod(t, e.store, "bye", 30)
	// app honours SIGTERM at once; stubborn is killed when the grace ends:
	// its StopContainer waits on the clock.
	e.advance(baseTimers+1, 30*time.Second)
	e.waitPod("bye", "gone from the store", func(p *objects.Pod) bool { return p == nil })
	if !waitFor(waitTimeout, func() bool { cs, _ := e.rt.ListContainers(context.Background(), runtime.Filter{}); return len(cs) == 0 }) {
		t.Errorf("containers left after the pod was deleted")
	}
	exits := map[string]int32{}
	for _, r := range e.rt.Records(fake.OpExit, fake.Pod("default", "bye")) {
		exits[r.Container] = r.ExitCode
	}
	if exits["app"] != 0 || exits["stubborn"] != 137 {
		t.Errorf("exit codes %v, want app 0 (SIGTERM) and stubborn 137 (SIGKILL after the grace period)", exits)
	}
	if len(e.rt.Records(fake.OpExec, fake.Container("default", "bye", "app"))) != 1 {
		t.Errorf("the preStop hook did not run")
	}
	e.wantEvents("Killing: Stopping container stubborn", 1)
}

// A grace period of 0 still gives containers SIGTERM, and the kubelet's
// minimum of two seconds before SIGKILL; the pod's grace period is at
// least a second, so preStop hooks run.
func TestZeroGracePeriodStillSendsSIGTERM(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	e.rt.Script(fake.Image("registry.local/stubborn:1"), fake.Behavior{IgnoreSIGTERM: true})
	p := e.pod("abrupt", "app", "stubborn")
	zero := int64(0)
	p.Spec.TerminationGracePeriodSeconds = &zero
	p.Spec.Containers[0].Lifecycle = &objects.Lifecycle{PreStop: &objects.LifecycleHandler{Exec: &objects.ExecAction{Command: []string{"print", "draining"}}}}
	e.create(p)
	e.waitPod("abrupt", "running", running)
	deletePod(t, e.store, "abrupt", 0)
	exit := func(ctr string) []fake.Record {
		return e.rt.Records(fake.OpExit, fake.Container("default", "abrupt", ctr))
	}
	if !waitFor(waitTimeout, func() bool { return len(exit("app")) > 0 }) {
		t.Fatalf("app did not exit; history:\n%v", e.rt.History())
	}
	if code := exit("app")[0].ExitCode; code != 0 {
		t.Fatalf("app exited with %d, want 0: SIGTERM, not SIGKILL", code)
	}
	if len(exit("stubborn")) != 0 {
		t.Fatalf("stubborn killed at once: %+v", exit("stubborn"))
	}
	// stubborn's StopContainer waits on the clock.
	e.advance(baseTimers+1, 2*time.Second)
	if !waitFor(waitTimeout, func() bool { return len(exit("stubborn")) > 0 }) {
		t.Fatalf("stubborn not killed once the clock moved 2s; history:\n%v", e.rt.History())
	}
	stops := e.rt.Records(fake.OpStopContainer, fake.Container("default", "abrupt", "stubborn"))
	if len(stops) != 1 || len(exit("stubborn")) != 1 || exit("stubborn")[0].ExitCode != 137 || exit("stubborn")[0].Time.Sub(stops[0].Time) != 2*time.Second {
		t.Errorf("stubborn: stops %+v, exits %+v; want SIGKILL 2s after the stop", stops, exit("stubborn"))
	}
	if n := len(e.rt.Records(fake.OpExec, fake.Container("default", "abrupt", "app"))); n != 1 {
		t.Errorf("the preStop hook ran %d times, want once", n)
	}
}

func TestAdoptionCreatesNothingTwice(t *testing.T) {
	e := newEnv(t, envOpt{})
	var names []string
	for i := range 5 {
		name := "adopt-" + string(rune('a'+i))
		names = append(names, name)
		e.create(e.pod(name, "app", "sidecar"))
	}
	e.create(e.pod("orphan", "app"))
	for _, n := range append(names, "orphan") {
		e.waitPod(n, "running", running)
	}
	e.stop()
	// While no agent runs, the orphan's pod object goes.
	deletePod(t, e.store, "orphan", 0)
	before := len(e.rt.Records(fake.OpCreateContainer, fake.Match{}))

	e.start()
	e.waitPod("adopt-a", "still running", running)
	if !waitFor(waitTimeout, func() bool {
		sbs, _ := e.rt.ListSandboxes(context.Background(), runtime.Filter{Labels: map[string]string{runtime.LabelPodName: "orphan"}})
		return len(sbs) == 0
	}) {
		t.Errorf("the sandbox of a pod that is gone was not removed")
	}
	// Sync everything again and check nothing was created.
	for _, n := range names {
		touch(t, e, n)
		e.waitPod(n, "running", running)
	}
	after := e.rt.Records(fake.OpCreateContainer, fake.Match{})
	if len(after) != before {
		t.Errorf("%d containers created after the restart", len(after)-before)
	}
	seen := map[string]bool{}
	for _, r := range after {
		k := r.PodUID + "/" + r.Container + "/" + string(rune('0'+r.Attempt))
		if seen[k] {
			t.Errorf("container %s/%s attempt %d created twice", r.Pod, r.Container, r.Attempt)
		}
		seen[k] = true
	}
	if n := len(e.rt.Records(fake.OpRunSandbox, fake.Match{})); n != 6 {
		t.Errorf("%d sandboxes created, want 6", n)
	}
}

// A pod can find more than one Ready sandbox: a process killed while it
// started one leaves it to the runtime, which may finish starting it after
// the next process gave the pod another. The agent keeps the sandbox that
// holds the pod's containers and removes the other, whether it finds it
// when it starts or sees it appear while it runs; nothing is created again.
func TestStrayReadySandboxRemoved(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.create(e.pod("stray", "app"))
	ip := e.waitPod("stray", "running", running).Status.PodIP
	ctx := context.Background()
	sel := runtime.Filter{Labels: map[string]string{runtime.LabelPodName: "stray"}}
	sbs, err := e.rt.ListSandboxes(ctx, sel)
	if err != nil || len(sbs) != 1 {
		t.Fatalf("sandboxes %+v, %v; want one", sbs, err)
	}
	own := sbs[0]
	// stray makes a Ready sandbox for the pod, newer than its own.
	stray := func() {
		t.Helper()
		_, err := e.rt.RunSandbox(ctx, &runtime.SandboxConfig{PodUID: own.Labels[runtime.LabelPodUID],
			PodName: "stray", PodNamespace: "default", Attempt: own.Attempt, Labels: own.Labels})
		if err != nil {
			t.Fatal(err)
		}
	}
	created := len(e.rt.Records(fake.OpCreateContainer, fake.Match{}))
	wantOne := func(when string) {
		t.Helper()
		var sbs []runtime.SandboxStatus
		if !waitFor(waitTimeout, func() bool {
			sbs, _ = e.rt.ListSandboxes(ctx, sel)
			return len(sbs) == 1
		}) {
			t.Fatalf("%s: the pod has sandboxes %+v; want its own only, %s", when, sbs, own.ID)
		}
		if sbs[0].ID != own.ID || sbs[0].State != runtime.SandboxReady {
			t.Errorf("%s: the pod has sandbox %+v; want its own, %s, ready", when, sbs[0], own.ID)
		}
		p := e.waitPod("stray", "running", running)
		if p.Status.PodIP != ip {
			t.Errorf("%s: pod IP %s, was %s", when, p.Status.PodIP, ip)
		}
		if n := len(e.rt.Records(fake.OpCreateContainer, fake.Match{})); n != created {
			t.Errorf("%s: %d containers created again", when, n-created)
		}
	}

	e.stop()
	stray()
	// A sandbox that becomes Ready sends no event: relist finds it.
	e.start(nodeagent.WithRelist(50*time.Millisecond, time.Minute))
	wantOne("found at the agent's start")
	stray()
	wantOne("appeared while the agent ran")
}

func TestVolumes(t *testing.T) {
	e := newEnv(t, envOpt{})
	hostDir := filepath.Join(t.TempDir(), "host")
	dirOrCreate := objects.HostPathDirectoryOrCreate
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"a.conf": "one", "b.conf": "bee"}}
	mode := int32(0o600)
	p := e.pod("vols", "app")
	p.Spec.Volumes = []objects.Volume{
		{Name: "scratch", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: objects.VolumeSource{HostPath: &objects.HostPathVolumeSource{Path: hostDir, Type: &dirOrCreate}}},
		{Name: "config", VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{
			LocalObjectReference: objects.LocalObjectReference{Name: "cfg"},
			Items:                []objects.KeyToPath{{Key: "a.conf", Path: "conf/a.conf", Mode: &mode}}}}},
		{Name: "info", VolumeSource: objects.VolumeSource{DownwardAPI: &objects.DownwardAPIVolumeSource{Items: []objects.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &objects.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
	}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{
		{Name: "scratch", MountPath: "/scratch"}, {Name: "host", MountPath: "/host"},
		{Name: "config", MountPath: "/etc/app"}, {Name: "info", MountPath: "/etc/info"},
	}
	e.create(cm, p)
	pod := e.waitPod("vols", "running", running)
	creates := e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "vols"))
	mounts := map[string]runtime.Mount{}
	for _, c := range e.rt.Configs() {
		if c.ID == creates[0].ID {
			for _, m := range c.Config.Mounts {
				mounts[m.ContainerPath] = m
			}
		}
	}
	if fi, err := os.Stat(mounts["/scratch"].HostPath); err != nil || !fi.IsDir() {
		t.Errorf("emptyDir %q: %v", mounts["/scratch"].HostPath, err)
	}
	if mounts["/host"].HostPath != hostDir {
		t.Errorf("hostPath mounted from %q", mounts["/host"].HostPath)
	}
	if _, err := os.Stat(hostDir); err != nil {
		t.Errorf("DirectoryOrCreate did not create %s", hostDir)
	}
	cfgFile := filepath.Join(mounts["/etc/app"].HostPath, "conf", "a.conf")
	if b, err := os.ReadFile(cfgFile); err != nil || string(b) != "one" {
		t.Errorf("configMap file: %q, %v", b, err)
	}
	if fi, err := os.Stat(cfgFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("configMap file mode: %v, %v", fi, err)
	}
	if !mounts["/etc/app"].ReadOnly {
		t.Errorf("configMap volume mounted read-write")
	}
	if b, _ := os.ReadFile(filepath.Join(mounts["/etc/info"].HostPath, "labels")); string(b) != `app="vols"` {
		t.Errorf("downward API labels file = %q", b)
	}
	// An update of the ConfigMap reaches the running pod's files.
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("ConfigMap", objects.Key{Namespace: "default", Name: "cfg"})
		if err != nil {
			return err
		}
		c := o.(*objects.ConfigMap)
		c.Data["a.conf"] = "two"
		return tx.Update(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !waitFor(waitTimeout, func() bool { b, _ := os.ReadFile(cfgFile); return string(b) == "two" }) {
		b, _ := os.ReadFile(cfgFile)
		t.Errorf("configMap update did not reach the file: %q", b)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "vols"))); n != 1 {
		t.Errorf("a configMap update restarted the container")
	}
	// The emptyDir goes with the pod.
	deletePod(t, e.store, "vols", 0)
	if !waitFor(waitTimeout, func() bool { _, err := os.Stat(mounts["/scratch"].HostPath); return os.IsNotExist(err) }) {
		t.Errorf("emptyDir %s left after the pod was deleted", mounts["/scratch"].HostPath)
	}
	_ = pod
}

func TestPersistentVolumeClaim(t *testing.T) {
	e := newEnv(t, envOpt{})
	dir := t.TempDir()
	pv := &objects.PersistentVolume{ObjectMeta: objects.ObjectMeta{Name: "pv1"}, Spec: objects.PersistentVolumeSpec{
		PersistentVolumeSource: objects.PersistentVolumeSource{HostPath: &objects.HostPathVolumeSource{Path: dir}}}}
	pvc := &objects.PersistentVolumeClaim{ObjectMeta: objects.ObjectMeta{Name: "data", Namespace: "default"}}
	p := e.pod("claims", "app")
	p.Spec.Volumes = []objects.Volume{{Name: "data", VolumeSource: objects.VolumeSource{PersistentVolumeClaim: &objects.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "data", MountPath: "/data", SubPath: "sub"}}
	e.create(pv, pvc, p)
	pod := e.waitPod("claims", "waiting for its claim", func(p *objects.Pod) bool {
		return p != nil && strings.Contains(p.Status.Message, `persistentvolumeclaim "data" is not bound`)
	})
	if cs := containerStatus(pod, "app"); cs.State.Waiting == nil || cs.State.Waiting.Reason != "ContainerCreating" {
		t.Errorf("container of a pod waiting for its volume: %+v", cs)
	}
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("PersistentVolumeClaim", objects.Key{Namespace: "default", Name: "data"})
		if err != nil {
			return err
		}
		c := o.(*objects.PersistentVolumeClaim)
		c.Spec.VolumeName = "pv1"
		if err := tx.Update(c); err != nil {
			return err
		}
		c.Status.Phase = objects.ClaimBound
		return tx.UpdateStatus(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitPod("claims", "running once the claim is bound", running)
	if _, err := os.Stat(filepath.Join(dir, "sub")); err != nil {
		t.Errorf("subPath directory not created: %v", err)
	}
}

func TestPostStartHook(t *testing.T) {
	e := newEnv(t, envOpt{})
	ok := e.pod("hooked", "app")
	ok.Spec.Containers[0].Lifecycle = &objects.Lifecycle{PostStart: &objects.LifecycleHandler{Exec: &objects.ExecAction{Command: []string{"print", "hello"}}}}
	bad := e.pod("badhook", "app")
	bad.Spec.Containers[0].Lifecycle = &objects.Lifecycle{
		PostStart: &objects.LifecycleHandler{Exec: &objects.ExecAction{Command: []string{"exit", "1"}}},
		PreStop:   &objects.LifecycleHandler{Exec: &objects.ExecAction{Command: []string{"print", "bye"}}},
	}
	e.create(ok, bad)
	e.waitPod("hooked", "running", running)
	if n := len(e.rt.Records(fake.OpExec, fake.Pod("default", "hooked"))); n != 1 {
		t.Errorf("postStart ran %d times", n)
	}
	e.waitPod("badhook", "restarted after its postStart hook failed", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "app").RestartCount >= 1
	})
	e.wantEventsAtLeast("FailedPostStartHook", 1)
	// Killed as the kubelet's killContainer does: its preStop hook first.
	var ops []string
	for _, r := range e.rt.History() {
		if r.Matches("", fake.Container("default", "badhook", "app")) && (r.Op == fake.OpExec || r.Op == fake.OpStopContainer) {
			ops = append(ops, string(r.Op))
		}
	}
	if len(ops) < 3 || strings.Join(ops[:3], ",") != "Exec,Exec,StopContainer" {
		t.Errorf("first instance: %v, want the postStart and preStop hooks, then the stop", ops)
	}
}

func TestDeadSandboxIsRecreated(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.pod("phoenix", "app")
	p.Spec.InitContainers = []objects.Container{{Name: "setup", Image: "registry.local/setup:1", Command: []string{"exit", "0"}}}
	e.create(p)
	first := e.waitPod("phoenix", "running", running)
	sbs, err := e.rt.ListSandboxes(context.Background(), runtime.Filter{Labels: map[string]string{runtime.LabelPodName: "phoenix"}})
	if err != nil || len(sbs) != 1 {
		t.Fatalf("sandboxes %v %v", sbs, err)
	}
	if err := e.rt.StopSandbox(context.Background(), sbs[0].ID); err != nil { // the pod's network died
		t.Fatal(err)
	}
	pod := e.waitPod("phoenix", "running in a new sandbox", func(p *objects.Pod) bool {
		return running(p) && containerStatus(p, "app").RestartCount == 1
	})
	e.wantEvents("SandboxChanged", 1)
	if n := len(e.rt.Records(fake.OpStartContainer, fake.Container("default", "phoenix", "setup"))); n != 2 {
		t.Errorf("init container ran %d times, want again in the new sandbox", n)
	}
	if pod.Status.PodIP == first.Status.PodIP {
		t.Logf("same IP %s reused", pod.Status.PodIP)
	}
}

// An OnFailure pod that loses its sandbox runs again, in a new one, only
// the containers that had not succeeded, as the kubelet's computePodActions.
func TestOnFailurePodKeepsSucceededContainersAfterSandboxLoss(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/done:1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})
	p := e.pod("rerun", "done", "srv")
	p.Spec.RestartPolicy = objects.RestartPolicyOnFailure
	e.create(p)
	e.waitPod("rerun", "done exited and srv running", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "done").State.Terminated != nil && containerStatus(p, "srv").State.Running != nil
	})
	sbs, err := e.rt.ListSandboxes(context.Background(), runtime.Filter{Labels: map[string]string{runtime.LabelPodName: "rerun"}})
	if err != nil || len(sbs) != 1 {
		t.Fatalf("sandboxes %v %v", sbs, err)
	}
	if err := e.rt.StopSandbox(context.Background(), sbs[0].ID); err != nil {
		t.Fatal(err)
	}
	// The sync that makes the new sandbox starts in it all it starts, done
	// before srv.
	pod := e.waitPod("rerun", "srv running in a new sandbox", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "srv").RestartCount == 1 && containerStatus(p, "srv").State.Running != nil
	})
	if n := len(e.rt.Records(fake.OpStartContainer, fake.Container("default", "rerun", "done"))); n != 1 {
		t.Errorf("the succeeded container started %d times, want once", n)
	}
	if cs := containerStatus(pod, "done"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 || cs.RestartCount != 0 {
		t.Errorf("succeeded container: %s, restarts %d", stateString(cs.State), cs.RestartCount)
	}
	if pod.Status.Phase != objects.PodRunning {
		t.Errorf("phase %s, want Running", pod.Status.Phase)
	}
}

// An OnFailure pod whose containers all succeeded gets no new sandbox for
// the one it lost: it has nothing to run, and is Succeeded.
func TestOnFailurePodWithAllSucceededGetsNoNewSandbox(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	e.rt.Script(fake.Image("registry.local/batch:1"), fake.Behavior{Exit: &fake.Exit{Code: 0, After: time.Minute}})
	p := e.pod("batch", "batch")
	p.Spec.RestartPolicy = objects.RestartPolicyOnFailure
	e.create(p)
	e.waitPod("batch", "running", running)
	// While no agent runs, the container succeeds and the sandbox dies.
	e.stop()
	e.fake.Advance(time.Minute)
	if !waitFor(waitTimeout, func() bool { return len(e.rt.Records(fake.OpExit, fake.Pod("default", "batch"))) > 0 }) {
		t.Fatalf("the container did not exit; history:\n%v", e.rt.History())
	}
	sbs, err := e.rt.ListSandboxes(context.Background(), runtime.Filter{Labels: map[string]string{runtime.LabelPodName: "batch"}})
	if err != nil || len(sbs) != 1 {
		t.Fatalf("sandboxes %v %v", sbs, err)
	}
	if err := e.rt.StopSandbox(context.Background(), sbs[0].ID); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitPod("batch", "Succeeded", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodSucceeded })
	if n := len(e.rt.Records(fake.OpRunSandbox, fake.Pod("default", "batch"))); n != 1 {
		t.Errorf("%d sandboxes made, want 1", n)
	}
	if n := len(e.rt.Records(fake.OpStartContainer, fake.Pod("default", "batch"))); n != 1 {
		t.Errorf("the container started %d times, want once", n)
	}
}

// A postStart hook has no time limit, as the kubelet's: it may outlast the
// pod's grace period without the container being killed.
func TestPostStartHookHasNoTimeLimit(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	p := e.pod("slowhook", "app")
	zero := int64(0)
	p.Spec.TerminationGracePeriodSeconds = &zero
	p.Spec.Containers[0].Lifecycle = &objects.Lifecycle{PostStart: &objects.LifecycleHandler{Exec: &objects.ExecAction{Command: []string{"sleep", "1m"}}}}
	e.create(p)
	// The hook's sleep, with the agent's own timers.
	e.advance(baseTimers+1, time.Minute)
	e.waitPod("slowhook", "running", running)
	if n := e.rec.count("FailedPostStartHook"); n != 0 {
		t.Errorf("%d FailedPostStartHook events:\n%v", n, e.rec)
	}
	if n := len(e.rt.Records(fake.OpStartContainer, fake.Pod("default", "slowhook"))); n != 1 {
		t.Errorf("the container started %d times, want once", n)
	}
}

// A postStart hook that does not return ends when its pod is deleted, or
// when the agent stops.
func TestPostStartHookEndsWithPodDeletion(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	hook := &objects.Lifecycle{PostStart: &objects.LifecycleHandler{Exec: &objects.ExecAction{Command: []string{"sleep", "1h"}}}}
	p := e.pod("stuck", "app")
	p.Spec.Containers[0].Lifecycle = hook
	e.create(p)
	execs := func(pod string) int { return len(e.rt.Records(fake.OpExec, fake.Pod("default", pod))) }
	if !waitFor(waitTimeout, func() bool { return execs("stuck") == 1 }) {
		t.Fatalf("the hook did not run; history:\n%v", e.rt.History())
	}
	// The clock stands still: the hook does not end by itself.
	deletePod(t, e.store, "stuck", 30)
	e.waitPod("stuck", "gone from the store", func(p *objects.Pod) bool { return p == nil })
	if n := e.rec.count("FailedPostStartHook"); n != 0 {
		t.Errorf("%d FailedPostStartHook events:\n%v", n, e.rec)
	}

	p = e.pod("stuck-too", "app")
	p.Spec.Containers[0].Lifecycle = hook
	e.create(p)
	if !waitFor(waitTimeout, func() bool { return execs("stuck-too") == 1 }) {
		t.Fatalf("the hook did not run; history:\n%v", e.rt.History())
	}
	e.stop() // fails the test unless Run returns
}

// A container's termination message is what it wrote to its
// terminationMessagePath; with FallbackToLogsOnError, a failed container
// that wrote none gets the end of its logs, and one that succeeded, or
// wrote one, does not.
func TestTerminationMessages(t *testing.T) {
	const fallbackBytes = 2048 // the kubelet's bound on a message from the logs
	e := newEnv(t, envOpt{})
	long := strings.Repeat("x", fallbackBytes)
	for img, b := range map[string]fake.Behavior{
		"wrote":    {Exit: &fake.Exit{Code: 3}, TerminationMessage: "disk full", Logs: []string{"not this"}},
		"logged":   {Exit: &fake.Exit{Code: 1}, Logs: []string{"starting", long, "panic: boom"}},
		"fine":     {Exit: &fake.Exit{Code: 0}, Logs: []string{"done"}},
		"silent":   {Exit: &fake.Exit{Code: 1}, Logs: []string{"not read"}},
		"fallback": {Exit: &fake.Exit{Code: 2}, TerminationMessage: "own words", Logs: []string{"not this"}},
	} {
		e.rt.Script(fake.Image("registry.local/"+img+":1"), b)
	}
	p := e.pod("msgs", "wrote", "logged", "fine", "silent", "fallback")
	p.Spec.RestartPolicy = objects.RestartPolicyNever
	for i := range p.Spec.Containers {
		if c := &p.Spec.Containers[i]; c.Name != "wrote" && c.Name != "silent" {
			c.TerminationMessagePolicy = objects.TerminationMessageFallbackToLogsOnError
		}
	}
	e.create(p)
	pod := e.waitPod("msgs", "Failed", func(p *objects.Pod) bool { return p.Status.Phase == objects.PodFailed })
	for name, want := range map[string]string{
		"wrote":    "disk full",
		"logged":   (long + "\npanic: boom\n")[len(long)+len("\npanic: boom\n")-fallbackBytes:],
		"fine":     "",
		"silent":   "",
		"fallback": "own words",
	} {
		cs := containerStatus(pod, name)
		if cs.State.Terminated == nil || cs.State.Terminated.Message != want {
			t.Errorf("container %s: terminated %+v, want message %q", name, cs.State.Terminated, want)
		}
	}
}

// A pod of a RuntimeClass runs its sandbox with the class's handler; one
// whose handler the runtime does not have, or whose class is gone, gets no
// sandbox and a FailedCreatePodSandBox event saying why, as the kubelet's.
func TestRuntimeClassHandler(t *testing.T) {
	e := newEnv(t, envOpt{rt: []fake.Option{fake.WithRuntimeHandlers("runsc")}})
	class := func(name, handler string) *objects.RuntimeClass {
		return &objects.RuntimeClass{ObjectMeta: objects.ObjectMeta{Name: name}, Handler: handler}
	}
	withClass := func(name, class string) *objects.Pod {
		p := e.pod(name, "app")
		p.Spec.RuntimeClassName = &class
		return p
	}
	e.create(class("gvisor", "runsc"), class("kata", "kata"),
		withClass("sandboxed", "gvisor"), withClass("unknown", "kata"), withClass("gone", "deleted"), e.pod("plain", "app"))
	e.waitPod("sandboxed", "running", running)
	e.waitPod("plain", "running", running)
	handlers := map[string]string{}
	for _, r := range e.rt.Records(fake.OpRunSandbox, fake.Match{}) {
		if r.Err == nil {
			handlers[r.Pod] = r.RuntimeHandler
		}
	}
	if want := map[string]string{"sandboxed": "runsc", "plain": ""}; !maps.Equal(handlers, want) {
		t.Errorf("sandboxes made with handlers %v, want %v", handlers, want)
	}
	for pod, msg := range map[string]string{
		"unknown": `Failed to create pod sandbox: fake: sandbox default/unknown: unknown runtime handler "kata"`,
		"gone":    `Failed to create pod sandbox: RuntimeClass "deleted" not found`,
	} {
		if !waitFor(waitTimeout, func() bool { return len(e.rec.about(pod, "FailedCreatePodSandBox")) > 0 }) {
			t.Fatalf("%s: no FailedCreatePodSandBox event; events:\n%v", pod, e.rec)
		}
		if got := e.rec.about(pod, "FailedCreatePodSandBox")[0]; !strings.HasPrefix(got, "FailedCreatePodSandBox: "+msg) {
			t.Errorf("%s: event %q, want %q", pod, got, msg)
		}
		if p, _ := e.get(pod); running(p) {
			t.Errorf("%s runs", pod)
		}
	}
}
