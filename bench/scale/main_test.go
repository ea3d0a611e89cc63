package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
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
