package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePodkit(t *testing.T) {
	v, err := parsePodkit("goos: linux\nBenchmarkServiceJob/nodes=5000/spread=on-2 \t 1\t 119.3 cpu-µs/pod\t 11938 pods/s\nPASS\n")
	require.NoError(t, err)
	assert.Equal(t, 11938.0, v)
	_, err = parsePodkit("FAIL\n")
	assert.ErrorContains(t, err, "no pods/s")
}

func TestParsePerOp(t *testing.T) {
	// Nomad's scheduler logs between the benchmark's name and its figure.
	out := "BenchmarkServiceScheduler/5000_nodes_25_racks_1200_allocs_no_spread-2     \t" +
		"2026-11-23T19:07:27.247Z [DEBUG] scheduler/generic_sched.go:360: service_sched: total_place=1200\n" +
		"       1\t 400000000 ns/op\nPASS\n"
	v, err := parsePerOp(out, 1200)
	require.NoError(t, err)
	assert.InDelta(t, 3000, v, 0.001)
	v, err = parsePerOp("BenchmarkSchedulerConstraints1kNodes10kTasks-2   \t       1\t1000000000 ns/op\n", 10000)
	require.NoError(t, err)
	assert.InDelta(t, 10000, v, 0.001)
	_, err = parsePerOp("BenchmarkX-2 \t 1 \t 0 ns/op\n", 10)
	assert.ErrorContains(t, err, "not a duration")
	_, err = parsePerOp("--- FAIL: BenchmarkX\n", 10)
	assert.ErrorContains(t, err, "no ns/op")
}

func TestParseKube(t *testing.T) {
	v, err := parseKube("BenchmarkPerfScheduling/SchedulingBasic/5000Nodes_10000Pods-2 \t 1\t 812.5 SchedulingThroughput/Average\t 790 SchedulingThroughput/Perc50\n", nil)
	require.NoError(t, err)
	assert.Equal(t, 812.5, v)
	// Under its threshold scheduler_perf fails and names the figure.
	v, err = parseKube(`    executor.go:682: ERROR:
        	op 2: BenchmarkPerfScheduling/SchedulingBasic/5000Nodes_10000Pods/namespace-2: expected "SchedulingThroughput" "Average" to be higher: got 178.515179, want 680.000000
--- FAIL: BenchmarkPerfScheduling`, errors.New("exit status 1"))
	require.NoError(t, err)
	assert.InDelta(t, 178.515179, v, 1e-9)
	_, err = parseKube("--- FAIL: BenchmarkPerfScheduling\n", errors.New("exit status 1"))
	assert.ErrorContains(t, err, "exit status 1")
}

func TestMedian(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
}
