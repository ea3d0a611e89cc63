package containerd

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/runtime"
)

// TestReadLog checks the CRI log reader on a file written by hand: pieces
// of long lines joined, tail, since and timestamps.
func TestReadLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ts := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	content := ts(0) + " stdout F one\n" +
		ts(time.Second) + " stderr P tw\n" +
		ts(time.Second) + " stderr F o\n" +
		ts(2*time.Second) + " stdout F \n" +
		ts(3*time.Second) + " stdout F three\n" +
		"garbage line\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts runtime.LogOptions
		want string
	}{
		{"all", runtime.LogOptions{}, "one\ntwo\n\nthree\n"},
		{"tail", runtime.LogOptions{Tail: 2}, "\nthree\n"},
		{"tail beyond", runtime.LogOptions{Tail: 10}, "one\ntwo\n\nthree\n"},
		{"since", runtime.LogOptions{Since: t0.Add(time.Second)}, "two\n\nthree\n"},
		{"timestamps", runtime.LogOptions{Tail: 1, Timestamps: true}, ts(3*time.Second) + " three\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var b strings.Builder
			if err := readLog(context.Background(), f, nil, tc.opts, &b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}

// TestFollowLog: a follower sees lines written after it started, and ends
// when the writers finish.
func TestFollowLog(t *testing.T) {
	dir := t.TempDir()
	var h logHub
	h.files = map[string]*logFile{}
	lf, err := h.open("c", filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	lf.copyLines("stdout", strings.NewReader("before\n"))
	f, err := os.Open(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(readLog(context.Background(), f, lf, runtime.LogOptions{Follow: true}, pw)) }()
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(pr, buf, len("before\n"))
	if err != nil || string(buf[:n]) != "before\n" {
		t.Fatalf("first read = %q, %v", buf[:n], err)
	}
	long := strings.Repeat("x", maxLine+10)
	lf.copyLines("stderr", strings.NewReader("after\n"+long+"\nno newline"))
	h.finish("c", lf)
	rest, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if want := "after\n" + long + "\nno newline\n"; string(rest) != want {
		t.Errorf("followed %d bytes, want %d: %.40q...", len(rest), len(want), rest)
	}
}
