package agenttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
)

// Cluster is the whole orchestrator (controllers, scheduler, and a node
// agent per registered node) for a backend's end-to-end tests and
// benchmarks. It runs until the test ends.
type Cluster struct {
	O *podkit.Orchestrator
	// Ctx is Run's context; it ends when the test does.
	Ctx context.Context
	// Root is the node agents' root directory: node n keeps the volumes
	// of pod u under Root/n/pods/u.
	Root string
	t    testing.TB
}

// NewCluster starts an orchestrator with its agents' volumes under a
// temporary directory, and stops it (Run returned) when the test ends.
// Runtimes made before NewCluster are closed after it stops.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	root := t.TempDir()
	o, err := podkit.New(podkit.WithNodeAgent(nodeagent.WithRootDir(root)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &Cluster{O: o, Ctx: ctx, Root: root, t: t}
}

// AddNode registers node name, of cpu cores and 16Gi, run by rt.
func (c *Cluster) AddNode(name, cpu string, rt runtime.Runtime) {
	c.t.Helper()
	node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name}, Status: objects.NodeStatus{Capacity: objects.ResourceList{
		objects.ResourceCPU: objects.MustParseQuantity(cpu), objects.ResourceMemory: objects.MustParseQuantity("16Gi")}}}
	if err := c.O.RegisterNode(c.Ctx, node, rt); err != nil {
		c.t.Fatal(err)
	}
}

// PodDir is the directory of node's agent for pod uid's volumes.
func (c *Cluster) PodDir(node, uid string) string { return filepath.Join(c.Root, node, "pods", uid) }

// PodDirs lists the pod directories under node's agent root.
func (c *Cluster) PodDirs(node string) []string {
	c.t.Helper()
	ents, err := os.ReadDir(filepath.Join(c.Root, node, "pods"))
	if err != nil && !os.IsNotExist(err) {
		c.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, node+"/pods/"+e.Name())
	}
	return out
}

// WebDeployment is a Deployment of replicas pods of image (the demo
// program) serving HTTP on 8080, Ready when /healthz answers.
func WebDeployment(name, image string, replicas int32) *objects.Deployment {
	labels := map[string]string{"app": name}
	return &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
		Spec: objects.DeploymentSpec{
			Replicas: &replicas,
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: labels},
				Spec: objects.PodSpec{Containers: []objects.Container{{
					Name: "web", Image: image, ImagePullPolicy: objects.PullIfNotPresent,
					Ports: []objects.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: &objects.Probe{
						ProbeHandler:  objects.ProbeHandler{HTTPGet: &objects.HTTPGetAction{Path: "/healthz", Port: objects.FromInt32(8080)}},
						PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 2},
				}}},
			},
		},
	}
}

// SpreadOverNodes makes the scheduler place d's pods so that the counts
// per node differ by at most one (a DoNotSchedule spread over hostnames).
func SpreadOverNodes(d *objects.Deployment) {
	d.Spec.Template.Spec.TopologySpreadConstraints = append(d.Spec.Template.Spec.TopologySpreadConstraints, objects.TopologySpreadConstraint{
		MaxSkew: 1, TopologyKey: objects.LabelHostname, WhenUnsatisfiable: objects.DoNotSchedule,
		LabelSelector: d.Spec.Selector,
	})
}

// Volumes of a pod of WithVolumes.
const (
	ScratchVolume = "scratch" // emptyDir at /data, which the demo serves as /data/{name}
	ConfVolume    = "conf"    // the ConfigMap, at /conf
	ConfKey       = "greeting"
)

// WithVolumes gives d's pods an emptyDir at /data and a volume of a
// ConfigMap at /conf, and returns the ConfigMap, to be applied with d.
func WithVolumes(d *objects.Deployment) *objects.ConfigMap {
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: d.Name + "-conf", Namespace: d.Namespace},
		Data: map[string]string{ConfKey: "hello from " + d.Name + "'s ConfigMap\n"}}
	spec := &d.Spec.Template.Spec
	spec.Volumes = append(spec.Volumes,
		objects.Volume{Name: ScratchVolume, VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}},
		objects.Volume{Name: ConfVolume, VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{
			LocalObjectReference: objects.LocalObjectReference{Name: cm.Name}}}})
	for i := range spec.Containers {
		spec.Containers[i].VolumeMounts = append(spec.Containers[i].VolumeMounts,
			objects.VolumeMount{Name: ScratchVolume, MountPath: "/data"},
			objects.VolumeMount{Name: ConfVolume, MountPath: "/conf", ReadOnly: true})
	}
	return cm
}

// CheckVolumes checks the volumes WithVolumes gave p on its node: the
// ConfigMap's file is in its directory, and a file the pod writes into
// /data through the demo's PUT /data/{name} appears in the emptyDir's.
func (c *Cluster) CheckVolumes(t testing.TB, p *objects.Pod, cm *objects.ConfigMap) {
	t.Helper()
	vols := filepath.Join(c.PodDir(p.Spec.NodeName, p.UID), "volumes")
	conf := filepath.Join(vols, "configmap", ConfVolume, ConfKey)
	if b, err := os.ReadFile(conf); err != nil || string(b) != cm.Data[ConfKey] {
		t.Errorf("pod %s: %s = %q, %v; want %q", p.Name, conf, b, err, cm.Data[ConfKey])
	}
	scratch := filepath.Join(vols, "empty-dir", ScratchVolume)
	if fi, err := os.Stat(scratch); err != nil || !fi.IsDir() {
		t.Errorf("pod %s: emptyDir %s: %v", p.Name, scratch, err)
		return
	}
	written := "written by " + p.Name
	if code, body := HTTPDo(t, "PUT", "http://"+p.Status.PodIP+":8080/data/mark", written); code != 204 {
		t.Errorf("pod %s: PUT /data/mark = %d %q", p.Name, code, body)
	}
	if b, err := os.ReadFile(filepath.Join(scratch, "mark")); err != nil || string(b) != written {
		t.Errorf("pod %s: the file it wrote into /data, seen in %s: %q, %v", p.Name, scratch, b, err)
	}
}

// WaitAvailable waits until d is Available and checks that each of its
// pods is Running and Ready with an IP, answering HTTP on that IP from the
// host; it returns the pods.
func (c *Cluster) WaitAvailable(t testing.TB, d *objects.Deployment) []*objects.Pod {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(c.Ctx, 2*time.Minute)
	defer cancel()
	if err := c.O.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: d.Name, Namespace: d.Namespace}}, podkit.Available); err != nil {
		var seen []string
		for _, p := range c.pods(t, d) {
			seen = append(seen, fmt.Sprintf("%s on %q: phase %s ready %v message %q containers %+v",
				p.Name, p.Spec.NodeName, p.Status.Phase, objects.IsPodReady(p), p.Status.Message, p.Status.ContainerStatuses))
		}
		t.Fatalf("Deployment not Available: %v; pods:\n%s", err, strings.Join(seen, "\n"))
	}
	t.Logf("%d replicas Available %v after Apply", *d.Spec.Replicas, time.Since(start))
	pods := c.pods(t, d)
	if len(pods) != int(*d.Spec.Replicas) {
		t.Fatalf("%d pods, want %d", len(pods), *d.Spec.Replicas)
	}
	for _, p := range pods {
		if p.Status.Phase != objects.PodRunning || !objects.IsPodReady(p) || p.Status.PodIP == "" {
			t.Errorf("pod %s: phase %s ready %v IP %q", p.Name, p.Status.Phase, objects.IsPodReady(p), p.Status.PodIP)
			continue
		}
		if body := HTTPGet(t, "http://"+p.Status.PodIP+":8080/"); !strings.Contains(body, "hello from "+p.Name) {
			t.Errorf("GET / on pod %s (%s) = %q", p.Name, p.Status.PodIP, body)
		}
	}
	return pods
}

func (c *Cluster) pods(t testing.TB, d *objects.Deployment) []*objects.Pod {
	t.Helper()
	pods, err := podkit.List[*objects.Pod](c.Ctx, c.O, d.Namespace, podkit.WithLabels("app="+d.Spec.Selector.MatchLabels["app"]))
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

// PerNode counts pods by node.
func PerNode(pods []*objects.Pod) map[string]int {
	out := map[string]int{}
	for _, p := range pods {
		out[p.Spec.NodeName]++
	}
	return out
}

// DeleteAndWait deletes d and waits until none of its pods is left in the
// store and left reports nothing left (of what the pods had in a daemon
// or on the host); on timeout it fails with what was left.
func (c *Cluster) DeleteAndWait(t testing.TB, d *objects.Deployment, left func() []string) {
	t.Helper()
	if err := c.O.Delete(c.Ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: d.Name, Namespace: d.Namespace}}); err != nil {
		t.Fatal(err)
	}
	Poll(t, 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		pods := c.pods(t, d)
		var rest []string
		if left != nil {
			rest = left()
		}
		return len(pods) == 0 && len(rest) == 0,
			fmt.Sprintf("after deleting the Deployment: %d pods in the store; left: %v", len(pods), rest)
	})
}

// RunSpreadWithVolumes applies a WebDeployment of replicas pods of image,
// spread over the cluster's nodes (SpreadOverNodes) and given volumes
// (WithVolumes); it waits until it is Available (WaitAvailable), checks
// that every one of nodes got a pod and that each pod's volumes work
// (CheckVolumes), and returns the Deployment and its pods.
func (c *Cluster) RunSpreadWithVolumes(t testing.TB, name, image string, replicas int32, nodes []string) (*objects.Deployment, []*objects.Pod) {
	t.Helper()
	d := WebDeployment(name, image, replicas)
	SpreadOverNodes(d)
	cm := WithVolumes(d)
	if err := c.O.Apply(c.Ctx, cm, d); err != nil {
		t.Fatal(err)
	}
	pods := c.WaitAvailable(t, d)
	perNode := PerNode(pods)
	for _, n := range nodes {
		if perNode[n] == 0 {
			t.Errorf("pods per node %v, want the %d replicas on every one of %v", perNode, replicas, nodes)
			break
		}
	}
	for _, p := range pods {
		c.CheckVolumes(t, p, cm)
	}
	return d, pods
}
