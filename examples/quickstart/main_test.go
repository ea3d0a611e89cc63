package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example as `go run ./examples/quickstart -runtime R`
// does on each runtime, in a cluster of its own: on fake it takes about
// five seconds, on docker and containerd about half a minute.
func TestRun(t *testing.T) {
	for _, rt := range cluster.Names {
		t.Run(rt, func(t *testing.T) {
			cluster.Require(t, rt)
			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
			defer cancel()
			var out bytes.Buffer
			args := []string{"-runtime", rt, "-cluster", exampleutil.UniqueCluster("qs"), "-timeout", "3m"}
			if err := run(ctx, args, &out); err != nil {
				t.Fatalf("%v\n--- output:\n%s", err, &out)
			}
			want := []string{
				`deployment "web" successfully rolled out`,
				"REVISION  CHANGE-CAUSE",
				`deployment.apps "web" deleted`,
				"nothing left:",
			}
			if rt == cluster.Fake {
				want = append(want, "note: pods of the fake runtime answer no real HTTP")
			} else {
				want = append(want, "via service/web: hello from web-", "via ingress/web: hello from web-",
					"requests through the Service:", "requests through the Ingress:", ", failed: 0\n")
				if !answeredBy(out.String(), "v1", "v2") {
					t.Error("the answers during the rollout came not from both versions")
				}
			}
			for _, w := range want {
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

// answeredBy tells whether out's "answers by version" line counts answers
// from each of versions.
func answeredBy(out string, versions ...string) bool {
	_, line, ok := strings.Cut(out, "answers by version:")
	line, _, _ = strings.Cut(line, "\n")
	fields := strings.Fields(line)
	for _, v := range versions {
		i := slices.Index(fields, v)
		if !ok || i < 0 || i+1 >= len(fields) || fields[i+1] == "0" {
			return false
		}
	}
	return true
}
