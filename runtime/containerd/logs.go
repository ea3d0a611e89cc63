package containerd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"

	"github.com/podkit/podkit/runtime"
)

// A container's output reaches its log through two FIFOs (one with a TTY)
// in containers/<id>/fifo, created by this package and kept while the task
// lives so that a later Runtime can open them again. The log,
// containers/<id>/log, is in the CRI format, one entry a line:
//
//	2024-05-01T10:00:00.123456789Z stdout F hello
//
// F ends a line, P is a piece of a line longer than maxLine.
//
// A write that would take the log past its maximum size (WithLogRotation)
// first rotates it, as the kubelet rotates container logs: log becomes
// log.1, log.1 log.2 and so on, the oldest is dropped, and a new log is
// opened. A CRI line is never split between two files. ContainerLogs reads
// the current file only, as kubectl logs does; a follower drains the file
// it has open (renamed, the same inode) and goes on with the next one.
const maxLine = 16 << 10

func (r *Runtime) fifoDir(id string) string { return filepath.Join(r.containersDir(), id, "fifo") }
func (r *Runtime) logPath(id string) string { return filepath.Join(r.containersDir(), id, "log") }

// rotatedPath is the path of the n-th rotated file of the log at path
// (n 0: the log itself).
func rotatedPath(path string, n int) string {
	if n == 0 {
		return path
	}
	return path + "." + strconv.Itoa(n)
}

// logHub holds the log files being written by this Runtime, for followers.
type logHub struct {
	mu    sync.Mutex
	files map[string]*logFile
	// maxSize and maxFiles are the rotation limits of the logs opened
	// (WithLogRotation); maxSize 0 never rotates.
	maxSize  int64
	maxFiles int
}

// logFile is a container log being written.
type logFile struct {
	path     string
	maxSize  int64
	maxFiles int

	mu      sync.Mutex
	f       *os.File
	size    int64         // bytes written to f, as far as rotation goes
	gen     uint64        // rotations so far: the file of generation g is rotatedPath(path, gen-g)
	changed chan struct{} // closed and replaced at each write
	done    chan struct{} // closed when the writers are finished
}

func (h *logHub) open(id, path string) (*logFile, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if lf := h.files[id]; lf != nil {
		return lf, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat() // a log written before a restart goes on
	if err != nil {
		f.Close()
		return nil, err
	}
	lf := &logFile{
		path: path, maxSize: h.maxSize, maxFiles: h.maxFiles,
		f: f, size: fi.Size(), changed: make(chan struct{}), done: make(chan struct{}),
	}
	h.files[id] = lf
	return lf, nil
}

// get returns the log being written for id, if any.
func (h *logHub) get(id string) *logFile {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.files[id]
}

// finish closes id's log: followers read what is left and end.
func (h *logHub) finish(id string, lf *logFile) {
	h.mu.Lock()
	if h.files[id] == lf {
		delete(h.files, id)
	}
	h.mu.Unlock()
	lf.mu.Lock()
	defer lf.mu.Unlock()
	select {
	case <-lf.done:
	default:
		close(lf.done)
		lf.f.Close()
	}
}

func (h *logHub) forget(id string) {
	if lf := h.get(id); lf != nil {
		h.finish(id, lf)
	}
}

func (lf *logFile) write(stream string, partial bool, text []byte) {
	tag := "F"
	if partial {
		tag = "P"
	}
	var b bytes.Buffer
	b.WriteString(time.Now().UTC().Format(time.RFC3339Nano))
	b.WriteString(" " + stream + " " + tag + " ")
	b.Write(text)
	b.WriteByte('\n')
	lf.mu.Lock()
	defer lf.mu.Unlock()
	select {
	case <-lf.done:
		return
	default:
	}
	if lf.maxSize > 0 && lf.size > 0 && lf.size+int64(b.Len()) > lf.maxSize {
		if err := lf.rotate(); err != nil {
			// Go on in this file; try again once it has grown by as much.
			lf.size = 0
		}
	}
	n, _ := lf.f.Write(b.Bytes())
	lf.size += int64(n)
	close(lf.changed)
	lf.changed = make(chan struct{})
}

// rotate renames the log to log.1 after shifting log.1 to log.2 and so on,
// dropping the oldest so that maxFiles files are left with the new log,
// and opens the new log. lf.mu is held. On an error lf still writes to the
// file it had.
func (lf *logFile) rotate() error {
	for n := lf.maxFiles - 1; n >= 1; n-- {
		var err error
		if n == lf.maxFiles-1 {
			err = os.Remove(rotatedPath(lf.path, n))
		} else {
			err = os.Rename(rotatedPath(lf.path, n), rotatedPath(lf.path, n+1))
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(lf.path, rotatedPath(lf.path, 1)); err != nil {
		return err
	}
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		_ = os.Rename(rotatedPath(lf.path, 1), lf.path)
		return err
	}
	lf.f.Close()
	lf.f, lf.size = f, 0
	lf.gen++
	return nil
}

// current opens the file being written now, with its generation.
func (lf *logFile) current() (*os.File, uint64, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	f, err := os.Open(lf.path)
	return f, lf.gen, err
}

// next opens the file written after the one of generation gen, with its
// generation, or returns nil when gen is the current one. A reader so far
// behind that the next file was dropped goes on with the oldest one left.
func (lf *logFile) next(gen uint64) (*os.File, uint64, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if gen >= lf.gen {
		return nil, gen, nil
	}
	gen++
	if back := lf.gen - gen; back > uint64(lf.maxFiles-1) {
		gen = lf.gen - uint64(lf.maxFiles-1)
	}
	f, err := os.Open(rotatedPath(lf.path, int(lf.gen-gen)))
	return f, gen, err
}

// state returns the channel closed at the next write and the generation.
func (lf *logFile) state() (<-chan struct{}, uint64) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.changed, lf.gen
}

// copyLines copies rd into the log, line by line, until rd ends.
func (lf *logFile) copyLines(stream string, rd io.Reader) {
	br := bufio.NewReaderSize(rd, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			lf.write(stream, true, line)
			continue
		case len(line) > 0:
			lf.write(stream, false, bytes.TrimSuffix(line, []byte("\n")))
		}
		if err != nil {
			return
		}
	}
}

// watch follows one running container for this Runtime: it copies the
// task's output to the log and records the exit.
type watch struct {
	r       *Runtime
	id      string
	tty     bool
	lf      *logFile
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	dio     *cio.DirectIO
	copiers sync.WaitGroup
	done    chan struct{} // closed when the exit watcher has returned
}

// newWatch opens the log of container id and registers a watch for it.
func (r *Runtime) newWatch(id string, tty bool) (*watch, error) {
	if err := os.MkdirAll(r.fifoDir(id), 0o700); err != nil {
		return nil, fmt.Errorf("containerd: container %s: %w", short(id), err)
	}
	lf, err := r.logs.open(id, r.logPath(id))
	if err != nil {
		return nil, fmt.Errorf("containerd: container %s log: %w", short(id), err)
	}
	w := &watch{r: r, id: id, tty: tty, lf: lf, done: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.logs.finish(id, lf)
		return nil, fmt.Errorf("containerd: runtime closed")
	}
	w.ctx, w.cancel = context.WithCancel(r.bg)
	r.watches[id] = w
	return w, nil
}

// creator is the cio.Creator of the container's task.
func (w *watch) creator(string) (cio.IO, error) {
	dir := w.r.fifoDir(w.id)
	c := cio.Config{Stdout: filepath.Join(dir, "stdout"), Terminal: w.tty}
	if !w.tty {
		c.Stderr = filepath.Join(dir, "stderr")
	}
	return w.open(c)
}

// attach is the cio.Attach of a running task this Runtime did not start.
func (w *watch) attach(fs *cio.FIFOSet) (cio.IO, error) {
	if fs == nil {
		return nil, errors.New("task has no FIFOs")
	}
	c := fs.Config
	c.Stdin = ""
	return w.open(c)
}

func (w *watch) open(c cio.Config) (cio.IO, error) {
	// The FIFOs stay on disk when the IO is closed: they go with the task.
	dio, err := cio.NewDirectIO(w.ctx, cio.NewFIFOSet(c, func() error { return nil }))
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.dio = dio
	w.mu.Unlock()
	if dio.Stdout != nil {
		w.copiers.Add(1)
		go func() { defer w.copiers.Done(); w.lf.copyLines("stdout", dio.Stdout) }()
	}
	if dio.Stderr != nil {
		w.copiers.Add(1)
		go func() { defer w.copiers.Done(); w.lf.copyLines("stderr", dio.Stderr) }()
	}
	return dio, nil
}

// stop ends the copying now (the Runtime closes, or the container goes).
func (w *watch) stop() {
	w.cancel()
	w.mu.Lock()
	if w.dio != nil {
		w.dio.Cancel()
		w.dio.Close()
	}
	w.mu.Unlock()
	w.copiers.Wait()
	w.r.logs.finish(w.id, w.lf)
}

// watchExit waits, in the background, for the task to exit, lets the
// copiers drain, records the exit and deletes the task. A wait that breaks
// is not an exit: the daemon restarted or went away, and the task, whose
// shim outlives the daemon, may still run. Then it waits again once the
// daemon answers, the output copied all along.
func (r *Runtime) watchExit(w *watch, exitCh <-chan client.ExitStatus) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(w.done)
		var st client.ExitStatus
		for {
			select {
			case st = <-exitCh:
			case <-w.ctx.Done():
				return
			}
			if st.Error() == nil {
				break
			}
			if exitCh = r.rewait(w); exitCh == nil {
				return
			}
		}
		drained := make(chan struct{})
		go func() { w.copiers.Wait(); close(drained) }()
		t := time.NewTimer(2 * time.Second) // a grandchild may hold the output open
		select {
		case <-drained:
		case <-t.C:
		case <-w.ctx.Done():
		}
		t.Stop()
		w.stop()
		r.mu.Lock()
		if r.watches[w.id] == w {
			delete(r.watches, w.id)
		}
		r.mu.Unlock()
		if !r.isClosed() {
			r.finalize(r.ns(context.Background()), w.id, st.ExitCode(), st.ExitTime())
		}
	}()
}

// rewait waits for container w.id's task again after a wait broke,
// trying until the daemon answers or w ends (then it returns nil). A task
// gone meanwhile, with its exit unknown (its shim died with it, or it was
// deleted behind the runtime's back), gives an unknown exit status.
func (r *Runtime) rewait(w *watch) <-chan client.ExitStatus {
	ctx := r.ns(w.ctx)
	var ch <-chan client.ExitStatus
	done := retry(w.ctx, func() bool {
		c, err := r.cli.LoadContainer(ctx, w.id)
		var task client.Task
		if err == nil {
			task, err = c.Task(ctx, nil)
		}
		if err == nil {
			if ch, err = task.Wait(ctx); err == nil {
				return true
			}
		}
		if errors.Is(r.wrap(err, ""), runtime.ErrNotFound) {
			gone := make(chan client.ExitStatus, 1)
			gone <- *client.NewExitStatus(client.UnknownExitStatus, time.Time{}, nil)
			ch = gone
			return true
		}
		r.log.Debug("waiting for a container's task again", "container", short(w.id), "err", err)
		return false
	})
	if !done {
		return nil
	}
	return ch
}

func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// unwatch stops the watch of id, if any, and waits for its goroutines.
func (r *Runtime) unwatch(id string) {
	r.mu.Lock()
	w := r.watches[id]
	delete(r.watches, id)
	r.mu.Unlock()
	if w == nil {
		return
	}
	w.stop()
}

// finalize records the exit of container id's task and deletes the task.
func (r *Runtime) finalize(ctx context.Context, id string, code uint32, at time.Time) {
	if at.IsZero() {
		at = time.Now()
	}
	err := r.setLabels(ctx, id, map[string]string{
		labelState: stateExited, labelExit: fmt.Sprint(int32(code)), labelReason: exitReason(int32(code), r.oomKilled(id)),
		labelFinished: at.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		if !errors.Is(err, runtime.ErrNotFound) {
			r.log.Warn("recording a container's exit", "container", short(id), "err", err)
		}
		return
	}
	c, err := r.cli.LoadContainer(ctx, id)
	if err == nil {
		var task client.Task
		if task, err = c.Task(ctx, nil); err == nil {
			_, err = task.Delete(ctx)
		}
	}
	if err != nil && !errors.Is(r.wrap(err, ""), runtime.ErrNotFound) {
		r.log.Warn("deleting an exited task", "container", short(id), "err", err)
	}
	_ = os.RemoveAll(r.fifoDir(id))
}

// ContainerLogs returns the container's log. See runtime.LogOptions.
// Once the container has exited the log holds all it printed, as with
// containerd's CRI plugin: read then, without Follow, it waits for the
// output still in flight to be copied.
func (r *Runtime) ContainerLogs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	if _, err := r.containerRecord(r.ns(ctx), id); err != nil {
		return nil, err
	}
	if !opts.Follow {
		if err := r.awaitOutput(ctx, id); err != nil {
			return nil, err
		}
	}
	lf := r.logs.get(id)
	var f *os.File
	var gen uint64
	var err error
	if lf != nil {
		f, gen, err = lf.current()
	} else {
		f, err = os.Open(r.logPath(id))
	}
	if errors.Is(err, os.ErrNotExist) {
		return io.NopCloser(strings.NewReader("")), nil // never started
	}
	if err != nil {
		return nil, fmt.Errorf("containerd: logs of %s: %w", short(id), err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(readLog(ctx, f, gen, lf, opts, pw))
	}()
	return pr, nil
}

// awaitOutput waits, when container id's task has exited and this
// Runtime still copies its output, until the copy is done (watchExit
// bounds it).
func (r *Runtime) awaitOutput(ctx context.Context, id string) error {
	r.mu.Lock()
	w := r.watches[id]
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	resp, err := r.cli.TaskService().Get(r.ns(ctx), &tasksapi.GetRequest{ContainerID: id})
	if err != nil || resp.Process.Status != tasktypes.Status_STOPPED {
		return nil // running, or gone: its exit is recorded, or never will be
	}
	select {
	case <-w.lf.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// logEntry is one line of output, pieces joined.
type logEntry struct {
	t    time.Time
	text []byte
}

// logParser turns CRI log lines into entries.
type logParser struct {
	pending []byte // pieces of an unfinished line
	pendT   time.Time
}

// parse returns the entry line completes, if any.
func (p *logParser) parse(line []byte) (logEntry, bool) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	f := bytes.SplitN(line, []byte(" "), 4)
	if len(f) < 3 {
		return logEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return logEntry{}, false
	}
	var text []byte
	if len(f) == 4 {
		text = f[3]
	}
	if p.pending == nil {
		p.pendT = t
	}
	if string(f[2]) == "P" {
		p.pending = append(p.pending, text...)
		return logEntry{}, false
	}
	e := logEntry{t: p.pendT, text: append(p.pending, text...)}
	p.pending = nil
	return e, true
}

// readLog writes the entries of f, the file of generation gen of lf (nil:
// a log no longer written), to w, then with opts.Follow those written
// later, in the files rotation opens after f too. It closes f.
func readLog(ctx context.Context, f *os.File, gen uint64, lf *logFile, opts runtime.LogOptions, w io.Writer) error {
	defer func() { f.Close() }()
	var p logParser
	emit := func(e logEntry) error {
		if !opts.Since.IsZero() && e.t.Before(opts.Since) {
			return nil
		}
		var b bytes.Buffer
		if opts.Timestamps {
			b.WriteString(e.t.UTC().Format(time.RFC3339Nano) + " ")
		}
		b.Write(e.text)
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	}
	// What is there now: all of it, or the last Tail entries.
	br := bufio.NewReaderSize(f, 64<<10)
	var tail []logEntry
	var partial []byte
	readAvailable := func(each func(logEntry) error) error {
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] != '\n' {
				partial = append(partial, line...) // a write in progress
			} else if len(line) > 0 {
				if partial != nil {
					line = append(partial, line...)
					partial = nil
				}
				if e, ok := p.parse(line); ok {
					if err := each(e); err != nil {
						return err
					}
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	// drain reads f to its end and, while rotation has left it behind, the
	// files after it: what a rotated file holds is all there is.
	var latest uint64
	drain := func() error {
		for {
			if err := readAvailable(emit); err != nil {
				return err
			}
			if gen >= latest {
				return nil
			}
			nf, ngen, err := lf.next(gen)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed with the container
			}
			if err != nil {
				return err
			}
			f.Close()
			f, gen = nf, ngen
			br.Reset(f)
			partial = nil
		}
	}
	var changed <-chan struct{}
	if lf != nil {
		changed, latest = lf.state()
	}
	err := readAvailable(func(e logEntry) error {
		if opts.Tail > 0 {
			tail = append(tail, e)
			if len(tail) > opts.Tail {
				tail = tail[1:]
			}
			return nil
		}
		return emit(e)
	})
	if err != nil {
		return err
	}
	for _, e := range tail {
		if err := emit(e); err != nil {
			return err
		}
	}
	if !opts.Follow || lf == nil {
		return nil
	}
	if err := drain(); err != nil { // rotated since f was opened
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-lf.done:
			_, latest = lf.state()
			return drain()
		case <-changed:
		}
		changed, latest = lf.state()
		if err := drain(); err != nil {
			return err
		}
	}
}
