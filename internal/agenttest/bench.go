package agenttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// AgentBatch creates n pods of image bound to node, returns the time until
// all are Running, then deletes them and waits until they are gone. It is
// the agent side of a backend's benchmark against its own client.
func AgentBatch(b testing.TB, s store.Store, node, image string, n int) time.Duration {
	ctx := context.Background()
	w, err := s.Watch(ctx, store.WatchOptions{Kind: "Pod", Buffer: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	id := make([]byte, 3)
	_, _ = rand.Read(id)
	batch := "b" + hex.EncodeToString(id)
	var names []string
	start := time.Now()
	err = s.Update(ctx, func(tx store.Tx) error {
		for j := range n {
			p := &objects.Pod{
				ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("%s-%d", batch, j), Namespace: "default"},
				Spec: objects.PodSpec{NodeName: node, Containers: []objects.Container{
					{Name: "app", Image: image, ImagePullPolicy: objects.PullNever}}},
			}
			s.Scheme().Default(p)
			if err := tx.Create(p); err != nil {
				return err
			}
			names = append(names, p.Name)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	waitRunning(b, w, n, func(p *objects.Pod) bool { return strings.HasPrefix(p.Name, batch+"-") })
	took := time.Since(start)
	grace := int64(1)
	err = s.Update(ctx, func(tx store.Tx) error {
		for _, name := range names {
			if _, err := tx.Delete("Pod", objects.Key{Namespace: "default", Name: name}, store.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	Poll(b, 5*time.Minute, 50*time.Millisecond, func() (bool, string) {
		var left int
		err := s.View(ctx, func(tx store.ReadTx) error {
			pods, err := tx.List("Pod", store.ListOptions{Namespace: "default"})
			left = len(pods)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		return left == 0, fmt.Sprintf("%d pods left after deletion", left)
	})
	return took
}

// CompareWithDirect runs agent and direct b.N times each, alternating which
// goes first so that neither always meets a warmer daemon, and reports
// their mean durations in milliseconds and the ratio agent/direct.
func CompareWithDirect(b *testing.B, agent, direct func() time.Duration) {
	Compare(b, "agent", agent, direct)
}

// Compare is CompareWithDirect with the first side's metrics named
// <name>-ms/op.
func Compare(b *testing.B, name string, via, direct func() time.Duration) {
	var viaTotal, directTotal time.Duration
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			viaTotal += via()
			directTotal += direct()
		} else {
			directTotal += direct()
			viaTotal += via()
		}
	}
	b.ReportMetric(float64(viaTotal.Milliseconds())/float64(b.N), name+"-ms/op")
	b.ReportMetric(float64(directTotal.Milliseconds())/float64(b.N), "direct-ms/op")
	b.ReportMetric(float64(viaTotal)/float64(directTotal), "ratio")
}

// DeploymentPodStart is the body of a backend's BenchmarkDeploymentPodStart:
// pod start latency as the issues define it, from a Deployment of N
// replicas of image being applied to every one of its pods Running, through
// controllers, scheduler and node agent, on one node run by rt; against
// direct(b, N), the same containers started with the backend's client
// alone, which returns its time and cleans up after itself. For N of 1 and
// 20 it reports both means and the ratio podkit/direct (see Compare). The
// caller warms rt up first (network, sandbox image).
func DeploymentPodStart(b *testing.B, rt runtime.Runtime, image string, direct func(b *testing.B, n int) time.Duration) {
	c := NewCluster(b)
	id := make([]byte, 3)
	_, _ = rand.Read(id)
	node := "bench-deploy-" + hex.EncodeToString(id)
	c.AddNode(node, "8", rt)
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			Compare(b, "podkit",
				func() time.Duration { return DeploymentBatch(b, c, rt, node, image, n) },
				func() time.Duration { return direct(b, n) })
		})
	}
}

// DeploymentBatch applies a Deployment of n replicas of image, returns the
// time until all its pods are Running, then deletes it and waits until its
// pods, and the sandboxes of node in rt, are gone.
func DeploymentBatch(b testing.TB, c *Cluster, rt runtime.Runtime, node, image string, n int) time.Duration {
	id := make([]byte, 3)
	_, _ = rand.Read(id)
	name := "bench-" + hex.EncodeToString(id)
	w, err := c.O.Watch(c.Ctx, "Pod", podkit.WithLabels("app="+name))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	d := &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
		Spec: objects.DeploymentSpec{
			Replicas: ptr(int32(n)),
			Selector: &objects.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: objects.PodSpec{Containers: []objects.Container{{
					Name: "app", Image: image, ImagePullPolicy: objects.PullNever}}},
			},
		},
	}
	start := time.Now()
	if err := c.O.Apply(c.Ctx, d); err != nil {
		b.Fatal(err)
	}
	waitRunning(b, w, n, func(*objects.Pod) bool { return true })
	took := time.Since(start)
	if err := c.O.Delete(c.Ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"}}); err != nil {
		b.Fatal(err)
	}
	Poll(b, 5*time.Minute, 50*time.Millisecond, func() (bool, string) {
		pods, err := podkit.List[*objects.Pod](c.Ctx, c.O, "default", podkit.WithLabels("app="+name))
		if err != nil {
			b.Fatal(err)
		}
		sbs, err := rt.ListSandboxes(c.Ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
		if err != nil {
			b.Fatal(err)
		}
		return len(pods) == 0 && len(sbs) == 0, fmt.Sprintf("%d pods and %d sandboxes left after deletion", len(pods), len(sbs))
	})
	return took
}

func ptr[T any](v T) *T { return &v }

// waitRunning reads pod changes from w until n distinct pods that match
// have been seen Running, failing after 5 minutes.
func waitRunning(b testing.TB, w store.Watcher, n int, match func(*objects.Pod) bool) {
	running := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(running) < n {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				b.Fatalf("watch ended: %v", w.Err())
			}
			if p, ok := ev.Peek().(*objects.Pod); ok && p.Status.Phase == objects.PodRunning && match(p) {
				running[p.Name] = true
			}
		case <-timeout:
			b.Fatalf("%d of %d pods Running after 5 minutes", len(running), n)
		}
	}
}
