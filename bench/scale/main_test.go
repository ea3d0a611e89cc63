package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The reference-scale program at a tiny scale: every pod runs and goes,
// and the summary line has the documented shape.
func TestScaleTiny(t *testing.T) {
	var out bytes.Buffer
	res, err := run(context.Background(), config{nodes: 10, pods: 300, replicas: 30, timeout: 2 * time.Minute, progress: time.Second}, &out, hooks{})
	require.NoError(t, err, "output:\n%s", out.String())
	require.Equal(t, 300, res.pods)
	require.Positive(t, res.running)
	require.Positive(t, res.deleting)
	require.Regexp(t, regexp.MustCompile(`^nodes=10 pods=300 running_s=[0-9.]+ pods_per_s=[0-9]+ peak_rss_mib=[0-9]+ heap_per_pod_bytes=[0-9]+ delete_s=[0-9.]+$`), res.String())
	t.Logf("%s\n%s", out.String(), res)
}

// The same on a store/bolt file.
func TestScaleTinyBolt(t *testing.T) {
	var out bytes.Buffer
	res, err := run(context.Background(), config{nodes: 10, pods: 300, replicas: 30, timeout: 2 * time.Minute, progress: time.Second,
		store: "bolt", storeFile: filepath.Join(t.TempDir(), "podkit.db")}, &out, hooks{})
	require.NoError(t, err, "output:\n%s", out.String())
	require.Regexp(t, regexp.MustCompile(`^nodes=10 pods=300 running_s=[0-9.]+ pods_per_s=[0-9]+ peak_rss_mib=[0-9]+ heap_per_pod_bytes=[0-9]+ delete_s=[0-9.]+ store=bolt file_mib=[0-9]+$`), res.String())
	t.Logf("%s\n%s", out.String(), res)
}

// -writes: each phase's store writes by kind, the pods' among them: each
// created, then bound and reported Running at least, and each deleted.
func TestScaleTinyWrites(t *testing.T) {
	var out bytes.Buffer
	_, err := run(context.Background(), config{nodes: 10, pods: 300, replicas: 30, timeout: 2 * time.Minute, progress: time.Second, writes: true}, &out, hooks{})
	require.NoError(t, err, "output:\n%s", out.String())
	text := out.String()
	phases := regexp.MustCompile(`(?m)^store writes (until every pod ran|until every pod was gone): (\d+), [0-9.]+ a pod\n((?:  .*\n)+)`).FindAllStringSubmatch(text, -1)
	require.Len(t, phases, 2, "output:\n%s", text)
	row := func(table, kind string) (added, modified, deleted int) {
		m := regexp.MustCompile(`(?m)^  ` + kind + `\s+(\d+)\s+(\d+)\s+(\d+)\s+[0-9.]+$`).FindStringSubmatch(table)
		require.NotNil(t, m, "no %s row in:\n%s", kind, table)
		added, _ = strconv.Atoi(m[1])
		modified, _ = strconv.Atoi(m[2])
		deleted, _ = strconv.Atoi(m[3])
		return added, modified, deleted
	}
	require.Equal(t, "until every pod ran", phases[0][1])
	added, modified, deleted := row(phases[0][3], "Pod")
	require.Equal(t, 300, added)
	require.GreaterOrEqual(t, modified, 600)
	require.Zero(t, deleted)
	added, _, _ = row(phases[0][3], "Deployment")
	require.Equal(t, 10, added)

	require.Equal(t, "until every pod was gone", phases[1][1])
	added, _, deleted = row(phases[1][3], "Pod")
	require.Zero(t, added)
	require.Equal(t, 300, deleted)
	_, _, deleted = row(phases[1][3], "Deployment")
	require.Equal(t, 10, deleted)
	t.Log(text)
}
