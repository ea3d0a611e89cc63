package fake

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Match selects containers (and, for sandbox operations, sandboxes) by the
// pod they belong to and what they run. Empty fields match anything, so the
// zero Match matches everything.
type Match struct {
	Namespace string
	Pod       string // pod name
	PodUID    string
	Container string // container name
	Image     string // image reference, exactly as the container names it
}

// Image matches every container running ref.
func Image(ref string) Match { return Match{Image: ref} }

// Container matches one container of one pod.
func Container(namespace, pod, container string) Match {
	return Match{Namespace: namespace, Pod: pod, Container: container}
}

// Pod matches every container, and the sandbox, of one pod.
func Pod(namespace, pod string) Match { return Match{Namespace: namespace, Pod: pod} }

func (m Match) matches(ns, pod, uid, ctr, image string) bool {
	return (m.Namespace == "" || m.Namespace == ns) &&
		(m.Pod == "" || m.Pod == pod) &&
		(m.PodUID == "" || m.PodUID == uid) &&
		(m.Container == "" || m.Container == ctr) &&
		(m.Image == "" || m.Image == image)
}

// Behavior is what a fake container does once started. The zero Behavior
// runs until stopped, exits 0 on SIGTERM, passes its probes and uses no CPU.
type Behavior struct {
	// Exit, when set, makes the container exit by itself.
	Exit *Exit
	// IgnoreSIGTERM keeps the container running after SIGTERM until it is
	// killed when the grace period ends (exit code 137).
	IgnoreSIGTERM bool
	// TermExitCode is the exit code after a SIGTERM it honours (default 0).
	TermExitCode int32
	// Unhealthy makes the container fail its probes from the start: exec
	// commands exit 1 and connections to it are refused. SetHealthy changes
	// it while the container runs.
	Unhealthy bool
	// CPUMillis is the CPU the container uses, in thousandths of a CPU, and
	// MemoryBytes its working set (0: DefaultMemoryBytes, as no running
	// process uses none), as ContainerStats reports them. SetUsage changes
	// them while the container runs.
	CPUMillis   int64
	MemoryBytes uint64
	// Logs are written to stdout when the container starts, then Stderr to
	// stderr.
	Logs   []string
	Stderr []string
	// HTTP answers HTTP requests to the pod's IP on the container's ports
	// while it is healthy; nil answers 200 "ok" to everything.
	HTTP http.Handler
	// GRPCHealth answers gRPC health checks (grpc.health.v1.Health, what
	// gRPC probes ask) on the same ports while the container is healthy:
	// the status of each service by name ("" the server's), one of
	// "SERVING", "NOT_SERVING", "UNKNOWN"; a service it does not name is
	// unknown to the server (NotFound). Nil answers SERVING for any.
	GRPCHealth map[string]string
	// Exec runs a command exec'ed in the container (probes, hooks, Exec)
	// and returns its exit code; nil understands the fake commands (see the
	// package documentation) and otherwise exits 0, or 1 when unhealthy.
	Exec func(cmd []string, stdout, stderr io.Writer) int
	// TerminationMessage is what the container writes to its
	// ContainerConfig.TerminationMessagePath: once it has exited, its
	// status's Message says it (the last runtime.MaxTerminationMessage
	// bytes), as the real runtimes read the file. A container without
	// that path reports none.
	TerminationMessage string
}

// Exit is how a container exits by itself.
type Exit struct {
	// After is how long it runs first, on the runtime's clock; 0 exits
	// as soon as it starts.
	After time.Duration
	Code  int32
	// OOMKilled reports the exit as the kernel's out-of-memory kill (exit
	// code 137 unless Code says otherwise).
	OOMKilled bool
}

// DefaultMemoryBytes is the working set of a running container whose
// Behavior does not say.
const DefaultMemoryBytes = 1 << 20

type rule struct {
	m Match
	b Behavior
}

// Pull is how a scripted image pull goes (see ScriptPull). The zero Pull,
// that of unscripted images, completes at once.
type Pull struct {
	// Size is the image's size in bytes, the Total of every progress report
	// (0: DefaultImageSize).
	Size int64
	// Duration is how long the pull takes on the runtime's clock.
	Duration time.Duration
	// Steps is how many even steps the pull makes after a first report of
	// nothing downloaded; each ends with a progress report (default 1).
	Steps int
}

// DefaultImageSize is the size a pull reports when ScriptPull does not say.
const DefaultImageSize = 1 << 20

type pullRule struct {
	m Match
	p Pull
}

// Op names a runtime operation, in the history and in faults.
type Op string

// Operations. OpExit is not a call: it records a container exiting by itself
// or being killed.
const (
	OpRunSandbox      Op = "RunSandbox"
	OpStopSandbox     Op = "StopSandbox"
	OpRemoveSandbox   Op = "RemoveSandbox"
	OpPullImage       Op = "PullImage"
	OpCreateContainer Op = "CreateContainer"
	OpStartContainer  Op = "StartContainer"
	OpStopContainer   Op = "StopContainer"
	OpRemoveContainer Op = "RemoveContainer"
	OpExec            Op = "Exec"
	// OpUpdateContainerResources: an in-place resize
	// (runtime.ResourceUpdater).
	OpUpdateContainerResources Op = "UpdateContainerResources"
	OpExit                     Op = "Exit"
)

// Fault makes matching calls fail.
type Fault struct {
	Op    Op
	Match Match
	// Err is the error returned (wrapped, and for OpPullImage wrapping
	// runtime.ErrImagePull too); nil returns a generic injected error.
	Err error
	// Times is how many matching calls fail; 0 fails them until the fault
	// is removed.
	Times int
}

type fault struct {
	Fault
	left int
}

var errInjected = errors.New("injected fault")

// command turns a fake command line into a behavior, or reports false;
// termPath is the container's TerminationMessagePath.
//
//	exit CODE [AFTER]           exits with CODE (after AFTER, a Go duration)
//	sleep DURATION              exits 0 after DURATION
//	print LINE...               writes each LINE to stdout, then exits 0
//	eprint LINE...              writes each LINE to stderr, then exits 0
//	ignore-sigterm              prints "ignoring SIGTERM", then runs until killed
//	fail-with FILE MESSAGE CODE writes MESSAGE to FILE, then exits with CODE:
//	                            the termination message when FILE is termPath
func command(argv []string, termPath string) (Behavior, bool) {
	if len(argv) == 0 {
		return Behavior{}, false
	}
	switch argv[0] {
	case "exit":
		if len(argv) < 2 {
			return Behavior{}, false
		}
		code, err := strconv.Atoi(argv[1])
		if err != nil {
			return Behavior{}, false
		}
		e := &Exit{Code: int32(code)}
		if len(argv) > 2 {
			if e.After, err = time.ParseDuration(argv[2]); err != nil {
				return Behavior{}, false
			}
		}
		return Behavior{Exit: e}, true
	case "sleep":
		if len(argv) < 2 {
			return Behavior{}, false
		}
		d, err := parseSleep(argv[1])
		if err != nil {
			return Behavior{}, false
		}
		return Behavior{Exit: &Exit{After: d}}, true
	case "print":
		return Behavior{Logs: append([]string(nil), argv[1:]...), Exit: &Exit{}}, true
	case "eprint":
		return Behavior{Stderr: append([]string(nil), argv[1:]...), Exit: &Exit{}}, true
	case "ignore-sigterm":
		return Behavior{IgnoreSIGTERM: true, Logs: []string{"ignoring SIGTERM"}}, true
	case "fail-with":
		if len(argv) != 4 || argv[1] == "" {
			return Behavior{}, false
		}
		code, err := strconv.Atoi(argv[3])
		if err != nil {
			return Behavior{}, false
		}
		b := Behavior{Exit: &Exit{Code: int32(code)}}
		if argv[1] == termPath {
			b.TerminationMessage = argv[2]
		}
		return b, true
	}
	return Behavior{}, false
}

// parseSleep reads "5s" or, as sleep(1) does, plain seconds "5".
func parseSleep(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// runExecCommand runs an exec'ed fake command; ok is false when argv is not
// one. cat without arguments copies stdin to stdout.
func runExecCommand(argv []string, stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	if len(argv) == 0 {
		return 0, false
	}
	switch argv[0] {
	case "exit":
		if len(argv) == 2 {
			if c, err := strconv.Atoi(argv[1]); err == nil {
				return c, true
			}
		}
	case "print", "eprint":
		w := stdout
		if argv[0] == "eprint" {
			w = stderr
		}
		for _, l := range argv[1:] {
			fmt.Fprintln(w, l)
		}
		return 0, true
	case "cat":
		if len(argv) == 1 {
			if stdin != nil {
				if _, err := io.Copy(stdout, stdin); err != nil {
					fmt.Fprintln(stderr, "cat:", err)
					return 1, true
				}
			}
			return 0, true
		}
	case "true":
		return 0, true
	case "false":
		return 1, true
	}
	return 0, false
}

func cmdline(argv []string) string { return strings.Join(argv, " ") }

// String returns the operation's name.
func (o Op) String() string { return string(o) }
