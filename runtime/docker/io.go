package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/podkit/podkit/runtime"
)

// ContainerLogs implements runtime.LogReader from the engine's log stream
// (the json-file or local log driver keeps it). Without a TTY the engine
// multiplexes stdout and stderr; they are demultiplexed (stdcopy) and
// interleaved again in the order the engine sends them, one line at a time.
func (r *Runtime) ContainerLogs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	c, err := r.inspectContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	lo := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Timestamps: opts.Timestamps, Tail: "all"}
	if opts.Tail > 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		lo.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	rc, err := r.cli.ContainerLogs(ctx, c.ID, lo)
	if err != nil {
		return nil, r.wrap(err, "logs of %s", short(id))
	}
	pr, pw := io.Pipe()
	lw := &lineWriter{w: pw}
	go func() {
		var err error
		if c.Config.Tty {
			_, err = io.Copy(lw, rc)
		} else {
			_, err = stdcopy.StdCopy(lw, lw, rc)
		}
		rc.Close()
		if err == nil {
			err = lw.finish()
		}
		pw.CloseWithError(err)
	}()
	return &logReader{PipeReader: pr, body: rc}, nil
}

type logReader struct {
	*io.PipeReader
	body io.Closer
}

// Close stops the stream; the copying goroutine then ends.
func (l *logReader) Close() error {
	l.body.Close()
	return l.PipeReader.Close()
}

// lineWriter passes writes through, remembering whether the last byte was a
// newline so the stream can end with one. Both streams write to it.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	partial bool
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	n, err := l.w.Write(p)
	if n > 0 {
		l.partial = p[n-1] != '\n'
	}
	return n, err
}

func (l *lineWriter) finish() error {
	if l.partial {
		_, err := l.w.Write([]byte{'\n'})
		return err
	}
	return nil
}

// Exec implements runtime.Execer: the command runs in the container through
// the engine's exec API; its output is demultiplexed into opts.Stdout and
// opts.Stderr, and its exit code read back once it ends.
func (r *Runtime) Exec(ctx context.Context, id string, opts runtime.ExecOptions) (int, error) {
	if len(opts.Command) == 0 {
		return 0, fmt.Errorf("docker: exec in %s: empty command", short(id))
	}
	cr, err := r.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd: opts.Command, TTY: opts.TTY,
		AttachStdin: opts.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return 0, r.wrap(err, "exec in %s", short(id))
	}
	att, err := r.cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{TTY: opts.TTY})
	if err != nil {
		return 0, r.wrap(err, "exec in %s: attach", short(id))
	}
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	var wg sync.WaitGroup
	if opts.Stdin != nil {
		wg.Go(func() {
			_, _ = io.Copy(att.Conn, opts.Stdin)
			_ = att.CloseWrite()
		})
	}
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	if opts.TTY {
		_, err = io.Copy(stdout, att.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, att.Reader)
	}
	att.Close()
	wg.Wait()
	if ctx.Err() != nil {
		return 0, r.wrap(ctx.Err(), "exec in %s", short(id))
	}
	if err != nil {
		return 0, r.wrap(err, "exec in %s: output", short(id))
	}
	// The stream ends as the process does; the engine records the exit code
	// a moment later.
	for delay := time.Millisecond; ; delay = min(delay*2, 100*time.Millisecond) {
		res, err := r.cli.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
		if err != nil {
			return 0, r.wrap(err, "exec in %s: inspect", short(id))
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, r.wrap(ctx.Err(), "exec in %s", short(id))
		case <-time.After(delay):
		}
	}
}

// ContainerStats implements runtime.StatsProvider with one sample from the
// engine. The working set is usage less inactive file pages, as the kubelet
// computes it (cgroup v2 "inactive_file", v1 "total_inactive_file").
func (r *Runtime) ContainerStats(ctx context.Context, id string) (runtime.Stats, error) {
	res, err := r.cli.ContainerStats(ctx, id, client.ContainerStatsOptions{})
	if err != nil {
		return runtime.Stats{}, r.wrap(err, "stats of %s", short(id))
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return runtime.Stats{}, r.wrap(err, "stats of %s: decode", short(id))
	}
	ws := s.MemoryStats.Usage
	inactive, ok := s.MemoryStats.Stats["inactive_file"]
	if !ok {
		inactive = s.MemoryStats.Stats["total_inactive_file"]
	}
	if inactive < ws {
		ws -= inactive
	} else {
		ws = 0
	}
	ts := s.Read
	if ts.IsZero() {
		ts = time.Now()
	}
	return runtime.Stats{Timestamp: ts, CPUUsageNanos: s.CPUStats.CPUUsage.TotalUsage, MemoryWorkingSetBytes: ws}, nil
}

// WatchEvents implements runtime.EventWatcher from the engine's event
// stream, starting at the moment of the call (the engine replays what
// happened since, so nothing between the call and the stream's start is
// lost). The channel closes when ctx ends, the stream breaks, or the
// consumer falls 1024 events behind.
func (r *Runtime) WatchEvents(ctx context.Context) (<-chan runtime.Event, error) {
	since := time.Now()
	if _, err := r.cli.Ping(ctx, client.PingOptions{}); err != nil {
		return nil, r.wrap(err, "events")
	}
	ctx, cancel := context.WithCancel(ctx)
	res := r.cli.Events(ctx, client.EventsListOptions{
		Since: fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: make(client.Filters).Add("type", string(events.ContainerEventType)).
			Add("label", labelKind).Add("event", "start", "die", "oom"),
	})
	out := make(chan runtime.Event, 1024)
	go func() {
		defer close(out)
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case <-res.Err:
				return
			case m := <-res.Messages:
				ev, ok := translate(m)
				if !ok {
					continue
				}
				if ev.Type == runtime.EventContainerOOM {
					r.cache.sawOOM(ev.ID)
				}
				select {
				case out <- ev:
				default:
					return // fell behind: the consumer relists
				}
			}
		}
	}()
	return out, nil
}

func translate(m events.Message) (runtime.Event, bool) {
	a := m.Actor.Attributes
	ev := runtime.Event{ID: m.Actor.ID, PodUID: a[runtime.LabelPodUID], Time: time.Unix(0, m.TimeNano)}
	if m.TimeNano == 0 {
		ev.Time = time.Unix(m.Time, 0)
	}
	switch {
	case a[labelKind] == kindSandbox && m.Action == events.ActionDie:
		ev.Type, ev.SandboxID = runtime.EventSandboxStopped, m.Actor.ID
	case a[labelKind] == kindContainer && m.Action == events.ActionStart:
		ev.Type, ev.SandboxID = runtime.EventContainerStarted, a[labelSandbox]
	case a[labelKind] == kindContainer && m.Action == events.ActionDie:
		ev.Type, ev.SandboxID = runtime.EventContainerExited, a[labelSandbox]
	case a[labelKind] == kindContainer && m.Action == events.ActionOOM:
		// Apart from the exit's, and not always before it (see
		// inspectCache).
		ev.Type, ev.SandboxID = runtime.EventContainerOOM, a[labelSandbox]
	default:
		return runtime.Event{}, false
	}
	return ev, true
}
