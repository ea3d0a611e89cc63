package logfiles

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "c-json.log")
	write("c-json.log", 10000)
	write("c-json.log.1", 20000)
	write("c-json.log.2.gz", 30000)
	write("config.json", 1<<20) // not a log
	write("c-json.logx", 1<<20) // nor is this
	got, err := Usage(path)
	if err != nil {
		t.Fatal(err)
	}
	// Blocks in use: at least the bytes written, far less than the others'.
	if got < 60000 || got >= 1<<20 {
		t.Errorf("Usage = %d bytes, want the log's and its rotated files' 60000 and some", got)
	}
	for _, p := range []string{"", filepath.Join(dir, "gone", "log")} {
		if n, err := Usage(p); n != 0 || err != nil {
			t.Errorf("Usage(%q) = %d, %v; want 0 and no error", p, n, err)
		}
	}
}

func TestCheckRotation(t *testing.T) {
	for _, tc := range []struct {
		size  int64
		files int
		ok    bool
	}{{1, 2, true}, {10 << 20, 5, true}, {0, 5, false}, {-1, 5, false}, {1, 1, false}, {1, 0, false}} {
		if err := CheckRotation(tc.size, tc.files); (err == nil) != tc.ok {
			t.Errorf("CheckRotation(%d, %d) = %v, want ok %v", tc.size, tc.files, err, tc.ok)
		}
	}
}
