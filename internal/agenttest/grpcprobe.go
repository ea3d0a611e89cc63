package agenttest

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// CheckGRPCReadiness runs a pod of the demo image (image) serving the gRPC
// health service on port 9090, with a gRPC readiness probe: it gets Ready,
// leaves Ready while the demo's health fails (NOT_SERVING), without a
// restart, and comes back when it heals. The pod is deleted at the end,
// and its containers and sandbox are gone from rt.
func (e *Env) CheckGRPCReadiness(rt runtime.Runtime, image string) {
	e.T.Helper()
	const name = "grpc"
	e.Create(&objects.Pod{
		ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
		Spec: objects.PodSpec{Containers: []objects.Container{{
			Name: "app", Image: image, ImagePullPolicy: objects.PullNever, Args: []string{"-grpc", ":9090"},
			Ports: []objects.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 9090}},
			ReadinessProbe: &objects.Probe{ProbeHandler: objects.ProbeHandler{GRPC: &objects.GRPCAction{Port: 9090}},
				PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 2},
		}}},
	})
	p := e.WaitPod(name, "Ready through its gRPC probe", objects.IsPodReady)
	defer func() {
		e.DeletePods(0, name)
		Poll(e.T, time.Minute, 50*time.Millisecond, func() (bool, string) {
			_, err := e.Pod(name)
			f := runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: string(p.UID)}}
			cs, lerr := rt.ListContainers(Context(e.T), f)
			sbs, serr := rt.ListSandboxes(Context(e.T), f)
			return err != nil && lerr == nil && serr == nil && len(cs) == 0 && len(sbs) == 0,
				fmt.Sprintf("pod %s: get %v; containers %d, %v; sandboxes %d, %v", name, err, len(cs), lerr, len(sbs), serr)
		})
	}()
	url := "http://" + p.Status.PodIP + ":8080/healthz/"
	// Ready says the gRPC server answers; the demo may not listen for
	// HTTP yet, as it starts both at once.
	HTTPGet(e.T, strings.TrimSuffix(url, "/"))
	HTTPDo(e.T, http.MethodPost, url+"fail", "")
	e.WaitPod(name, "not Ready, its gRPC health NOT_SERVING", func(p *objects.Pod) bool { return !objects.IsPodReady(p) })
	HTTPDo(e.T, http.MethodPost, url+"ok", "")
	p = e.WaitPod(name, "Ready again", objects.IsPodReady)
	for _, cs := range p.Status.ContainerStatuses {
		if cs.RestartCount != 0 {
			e.T.Errorf("container %s restarted %d times; a readiness probe restarts nothing", cs.Name, cs.RestartCount)
		}
	}
}
