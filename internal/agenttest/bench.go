package agenttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
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
	running := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(running) < n {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				b.Fatalf("watch ended: %v", w.Err())
			}
			if p, ok := ev.Peek().(*objects.Pod); ok && p.Status.Phase == objects.PodRunning && strings.HasPrefix(p.Name, batch+"-") {
				running[p.Name] = true
			}
		case <-timeout:
			b.Fatalf("%d of %d pods Running after 5 minutes", len(running), n)
		}
	}
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
	var viaAgent, viaClient time.Duration
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			viaAgent += agent()
			viaClient += direct()
		} else {
			viaClient += direct()
			viaAgent += agent()
		}
	}
	b.ReportMetric(float64(viaAgent.Milliseconds())/float64(b.N), "agent-ms/op")
	b.ReportMetric(float64(viaClient.Milliseconds())/float64(b.N), "direct-ms/op")
	b.ReportMetric(float64(viaAgent)/float64(viaClient), "ratio")
}
