package memdb_test

import (
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/podkit/podkit/store/memdb"
)

func TestHeapProfile(t *testing.T) {
	if os.Getenv("HEAPPROF") == "" {
		t.Skip()
	}
	runtime.MemProfileRate = 512
	s, _ := memdb.New()
	fill(t, s, newPodFactory(), scalePods, 1000)
	runtime.GC()
	f, _ := os.Create("/tmp/heap.out")
	pprof.Lookup("heap").WriteTo(f, 0)
	f.Close()
	runtime.KeepAlive(s)
}
