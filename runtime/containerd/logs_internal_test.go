package containerd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
			if err := readLog(context.Background(), f, 0, nil, tc.opts, &b); err != nil {
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
	go func() {
		pw.CloseWithError(readLog(context.Background(), f, 0, lf, runtime.LogOptions{Follow: true}, pw))
	}()
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

// TestLogFileRotation writes many lines to a log with a small maximum size: at
// most maxFiles files are left, none larger than maxSize plus a line, and
// they hold the newest lines in order; reading without Follow gives the
// current file's lines, and a follower started before the writes gets
// every line, in order, across the rotations.
func TestLogFileRotation(t *testing.T) {
	const maxSize, maxFiles, lines = 1 << 10, 3, 400
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	h := logHub{files: map[string]*logFile{}, maxSize: maxSize, maxFiles: maxFiles}
	lf, err := h.open("c", path)
	if err != nil {
		t.Fatal(err)
	}
	text := func(i int) string { return fmt.Sprintf("line %04d %s", i, strings.Repeat("x", i%50)) }

	f, gen, err := lf.current()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	followed := make(chan string)
	followErr := make(chan error, 1)
	go func() { pw.CloseWithError(readLog(ctx, f, gen, lf, runtime.LogOptions{Follow: true}, pw)) }()
	go func() {
		defer close(followed)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			followed <- sc.Text()
		}
		followErr <- sc.Err()
	}()

	// A follower nobody reads from meanwhile falls behind by more than the
	// files kept.
	lf2, gen2, err := lf.current()
	if err != nil {
		t.Fatal(err)
	}
	lr, lw := io.Pipe()
	defer lr.Close()
	go func() { lw.CloseWithError(readLog(ctx, lf2, gen2, lf, runtime.LogOptions{Follow: true}, lw)) }()

	var longest int
	for i := range lines {
		before := fileSize(t, path)
		lf.write("stdout", false, []byte(text(i)))
		longest = max(longest, fileSize(t, path)-before) // a line, when the write did not rotate
		select {
		case got := <-followed:
			if got != text(i) {
				t.Fatalf("follower got %q after line %d, want %q", got, i, text(i))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("follower did not get line %d (%q) within 10s", i, text(i))
		}
	}
	h.finish("c", lf)
	select {
	case got, ok := <-followed:
		if ok {
			t.Errorf("follower got %q after the last line", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follower did not end within 10s of the writers finishing")
	}
	if err := <-followErr; err != nil {
		t.Errorf("follower: %v", err)
	}
	// The lagging follower lost the dropped files, and nothing else.
	lagging := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(lr); lagging <- b }()
	select {
	case b := <-lagging:
		var got []int
		for line := range strings.Lines(string(b)) {
			var i int
			if _, err := fmt.Sscanf(line, "line %d", &i); err != nil || line != text(i)+"\n" {
				t.Fatalf("lagging follower got %q", line)
			}
			got = append(got, i)
		}
		increasing := slices.IsSorted(got) && len(slices.Compact(slices.Clone(got))) == len(got)
		if len(got) == 0 || got[0] != 0 || got[len(got)-1] != lines-1 || len(got) >= lines || !increasing {
			t.Errorf("lagging follower got lines %v, want 0 first, %d last, in order, some dropped", got, lines-1)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lagging follower did not end within 10s of the writers finishing")
	}
	if gen := lf.gen; gen < maxFiles {
		t.Fatalf("%d rotations, want at least %d: the test writes too little", gen, maxFiles)
	}

	// The files, oldest first, hold the newest lines, in order.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"log", "log.1", "log.2"}
	if !slices.Equal(names, want) {
		t.Fatalf("files %q, want %q", names, want)
	}
	var all []string
	var current int
	for n := maxFiles - 1; n >= 0; n-- {
		b, err := os.ReadFile(rotatedPath(path, n))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > maxSize+longest {
			t.Errorf("%s: %d bytes, more than %d plus a line (%d)", rotatedPath(path, n), len(b), maxSize, longest)
		}
		var p logParser
		for line := range bytes.Lines(b) {
			e, ok := p.parse(line)
			if !ok {
				t.Fatalf("%s: a line that does not parse: %q", rotatedPath(path, n), line)
			}
			all = append(all, string(e.text))
		}
		current = bytes.Count(b, []byte("\n"))
	}
	for i, got := range all {
		if want := text(lines - len(all) + i); got != want {
			t.Fatalf("line %d of %d in the files = %q, want %q", i, len(all), got, want)
		}
	}

	// Reading without Follow gives the current file only.
	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := readLog(context.Background(), f, 0, nil, runtime.LogOptions{}, &b); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(all[len(all)-current:], "\n") + "\n"; b.String() != want {
		t.Errorf("the current file read = %q, want %q", b.String(), want)
	}
}

func fileSize(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size())
}

// TestLogRotationOptions: WithLogRotation refuses limits that make no sense.
func TestLogRotationOptions(t *testing.T) {
	for _, tc := range []struct {
		maxSize  int64
		maxFiles int
		ok       bool
	}{
		{16 << 10, 3, true},
		{1, 2, true},
		{0, 5, false},
		{-1, 5, false},
		{10 << 20, 1, false},
		{10 << 20, 0, false},
	} {
		var c config
		err := WithLogRotation(tc.maxSize, tc.maxFiles)(&c)
		if (err == nil) != tc.ok {
			t.Errorf("WithLogRotation(%d, %d) = %v, want ok %v", tc.maxSize, tc.maxFiles, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "WithLogRotation") {
			t.Errorf("WithLogRotation(%d, %d): error %q does not name the option", tc.maxSize, tc.maxFiles, err)
		}
	}
}
