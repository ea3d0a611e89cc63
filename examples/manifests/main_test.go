package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun applies the built-in manifests on each runtime, as `go run
// ./examples/manifests -runtime R` does, in a cluster of its own.
func TestRun(t *testing.T) {
	for _, rt := range cluster.Names {
		t.Run(rt, func(t *testing.T) {
			cluster.Require(t, rt)
			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
			defer cancel()
			var out bytes.Buffer
			args := []string{"-runtime", rt, "-cluster", exampleutil.UniqueCluster("mf"), "-timeout", "3m"}
			if err := run(ctx, args, &out); err != nil {
				t.Fatalf("%v\n--- output:\n%s", err, &out)
			}
			for _, w := range []string{
				"image podkit.local/demo:v1 is the demo image",
				"job.batch/migrate condition met",
				`daemon set "node-agent" successfully rolled out`,
				"statefulset rolling update complete 3 pods",
				`deployment "web" successfully rolled out`,
				"db-2 ", "Completed", "Everything is ready",
				`statefulset.apps "db" deleted`, "nothing left:",
			} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the output lacks %q", w)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", &out)
			}
		})
	}
}

// TestRunFails checks that what does not become ready is named, with the
// reason, in the error, and that nothing is left behind.
func TestRunFails(t *testing.T) {
	for _, tc := range []struct {
		name, manifest string
		want           []string
	}{{
		name: "job fails",
		manifest: `
apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: podkit.local/demo, args: ["exit", "3"]}]
`,
		want: []string{"job/fails failed", "condition Failed: BackoffLimitExceeded", "exit code 3"},
	}, {
		name: "unschedulable",
		manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: big}
spec:
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      containers: [{name: main, image: podkit.local/demo, resources: {requests: {cpu: "100"}}}]
`,
		want: []string{"deployment/big did not roll out", "Unschedulable", "Insufficient cpu"},
	}, {
		name: "image pull fails",
		manifest: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: main, image: registry.invalid/agent:1}]
`,
		want: []string{"daemonset/agent did not roll out", "container main: waiting:", "ImagePull"},
	}, {
		name: "invalid manifest",
		manifest: `
apiVersion: v1
kind: Pod
metadata: {name: typo}
spec:
  containers: [{name: main, image: podkit.local/demo, imagePullPolcy: Always}]
`,
		want: []string{"app.yaml", "imagePullPolcy"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(tc.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			args := []string{"-runtime", cluster.Fake, "-cluster", exampleutil.UniqueCluster("mf"), "-timeout", "5s", dir}
			err := run(ctx, args, &out)
			if err == nil {
				t.Fatalf("run succeeded; output:\n%s", &out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q", w)
				}
			}
			if strings.Contains(out.String(), "Apply") && !strings.Contains(out.String(), "nothing left:") {
				t.Error("run did not delete what it applied")
			}
			if t.Failed() {
				t.Logf("error: %v\n--- output:\n%s", err, &out)
			}
		})
	}
}
