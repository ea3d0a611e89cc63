package nodeagent_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

// The kubelet's refusals of runAsNonRoot (kuberuntime's
// verifyRunAsNonRoot), with the pod in its format.Pod form.
const (
	refuseRunAsUser = "container's runAsUser breaks non-root policy (pod: %q, container: %s)"
	refuseImageRoot = "container has runAsNonRoot and image will run as root (pod: %q, container: %s)"
	refuseImageName = "container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)"
)

func podRef(p *objects.Pod) string { return p.Name + "_" + p.Namespace + "(" + p.UID + ")" }

// wantRefused waits until container ctr of pod waits in
// CreateContainerConfigError and checks what the kubelet would show: the
// message, one Failed event "Error: message", and no container created.
func (e *env) wantRefused(pod, ctr string, message func(p *objects.Pod) string) *objects.Pod {
	e.t.Helper()
	p := e.waitPod(pod, "refused by runAsNonRoot", waiting(ctr, "CreateContainerConfigError"))
	want := message(p)
	if got := containerStatus(p, ctr).State.Waiting.Message; got != want {
		e.t.Errorf("pod %s container %s: message %q, want %q", pod, ctr, got, want)
	}
	if p.Status.Phase != objects.PodPending {
		e.t.Errorf("pod %s: phase %s, want Pending", pod, p.Status.Phase)
	}
	e.wantEvents("Failed: Error: "+want, 1)
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", pod, ctr))); n != 0 {
		e.t.Errorf("pod %s container %s: created %d times, want never", pod, ctr, n)
	}
	return p
}

func TestRunAsNonRoot(t *testing.T) {
	type sc = objects.SecurityContext
	type psc = objects.PodSecurityContext
	for _, tc := range []struct {
		name      string
		pod       *psc
		container *sc
		imageUser string // of the container's image
		// refusal is the message of a refused container, "" for one that
		// runs, from the pod's reference and the container's name.
		refusal func(pod, ctr string) string
	}{
		{name: "not-asked", imageUser: ""},
		{name: "run-as-user-zero", pod: &psc{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(0))},
			refusal: func(p, c string) string { return fmt.Sprintf(refuseRunAsUser, p, c) }},
		{name: "run-as-user-nonzero", pod: &psc{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000))}, imageUser: ""},
		{name: "run-as-user-over-named-image", pod: &psc{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000))}, imageUser: "nginx"},
		{name: "image-root", pod: &psc{RunAsNonRoot: ptr(true)}, imageUser: "",
			refusal: func(p, c string) string { return fmt.Sprintf(refuseImageRoot, p, c) }},
		{name: "image-uid-zero", pod: &psc{RunAsNonRoot: ptr(true)}, imageUser: "0:1000",
			refusal: func(p, c string) string { return fmt.Sprintf(refuseImageRoot, p, c) }},
		{name: "image-numeric", pod: &psc{RunAsNonRoot: ptr(true)}, imageUser: "1000"},
		{name: "image-numeric-group", pod: &psc{RunAsNonRoot: ptr(true)}, imageUser: "1000:0"},
		{name: "image-named", pod: &psc{RunAsNonRoot: ptr(true)}, imageUser: "nginx",
			refusal: func(p, c string) string { return fmt.Sprintf(refuseImageName, "nginx", p, c) }},
		{name: "image-named-group", pod: &psc{RunAsNonRoot: ptr(true)}, imageUser: "app:5555",
			refusal: func(p, c string) string { return fmt.Sprintf(refuseImageName, "app", p, c) }},
		// The container's settings override the pod's.
		{name: "container-asks", container: &sc{RunAsNonRoot: ptr(true)}, imageUser: "",
			refusal: func(p, c string) string { return fmt.Sprintf(refuseImageRoot, p, c) }},
		{name: "container-waives", pod: &psc{RunAsNonRoot: ptr(true)}, container: &sc{RunAsNonRoot: ptr(false)}, imageUser: ""},
		{name: "container-user-over-pod-root", pod: &psc{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(0))},
			container: &sc{RunAsUser: ptr(int64(1000))}},
		{name: "container-root-over-pod-user", pod: &psc{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000))},
			container: &sc{RunAsUser: ptr(int64(0))}, imageUser: "1000",
			refusal: func(p, c string) string { return fmt.Sprintf(refuseRunAsUser, p, c) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			image := "registry.local/" + tc.name + ":1"
			e := newEnv(t, envOpt{rt: []fake.Option{fake.WithImageUser(image, tc.imageUser)}})
			p := e.pod(tc.name, "app")
			p.Spec.Containers[0].Image = image
			p.Spec.SecurityContext, p.Spec.Containers[0].SecurityContext = tc.pod, tc.container
			e.create(p)
			if tc.refusal != nil {
				e.wantRefused(tc.name, "app", func(p *objects.Pod) string { return tc.refusal(podRef(p), "app") })
				return
			}
			e.waitPod(tc.name, "running", running)
			if n := e.rec.count("Failed"); n != 0 {
				t.Errorf("%d Failed events for a container allowed to run:\n%v", n, e.rec)
			}
		})
	}
}

// An init container is held as the others are, and the pod's containers
// wait for it.
func TestRunAsNonRootInitContainer(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.pod("init-root", "app")
	p.Spec.SecurityContext = &objects.PodSecurityContext{RunAsUser: ptr(int64(1000))}
	p.Spec.InitContainers = []objects.Container{{Name: "setup", Image: "registry.local/setup:1",
		SecurityContext: &objects.SecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(0))}}}
	e.create(p)
	e.wantRefused("init-root", "setup", func(p *objects.Pod) string { return fmt.Sprintf(refuseRunAsUser, podRef(p), "setup") })
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "init-root"))); n != 0 {
		t.Errorf("%d containers of the pod created while its init container is refused", n)
	}
}

// A refused container is tried again after the base back-off: once its
// image names a non-root user it runs. A pod whose image is changed to one
// that passes runs at once, its update being a sync of its own.
func TestRunAsNonRootRetried(t *testing.T) {
	const laterImage, swapImage, good = "registry.local/later:1", "registry.local/swap:1", "registry.local/good:1"
	e := newEnv(t, envOpt{fakeClock: true, rt: []fake.Option{fake.WithImageUser(good, "1000")}})
	later := e.pod("later", "app")
	later.Spec.Containers[0].Image = laterImage
	later.Spec.SecurityContext = &objects.PodSecurityContext{RunAsNonRoot: ptr(true)}
	swap := e.pod("swap", "app")
	swap.Spec.Containers[0].Image = swapImage
	swap.Spec.SecurityContext = &objects.PodSecurityContext{RunAsNonRoot: ptr(true)}
	e.create(later, swap)
	e.wantRefused("later", "app", func(p *objects.Pod) string { return fmt.Sprintf(refuseImageRoot, podRef(p), "app") })
	e.wantRefused("swap", "app", func(p *objects.Pod) string { return fmt.Sprintf(refuseImageRoot, podRef(p), "app") })

	e.rt.SetImageUser(laterImage, "1000:1000")
	if p, _ := e.get("later"); !waiting("app", "CreateContainerConfigError")(p) {
		t.Fatalf("pod later left CreateContainerConfigError before its back-off passed:\n%s", describe(p))
	}
	e.advance(baseTimers+2, nodeagent.DefaultBackoffBase) // both pods wait for their back-off
	e.waitPod("later", "running once its image names a non-root user", running)
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", "later", "app"))); n != 1 {
		t.Errorf("pod later: container created %d times, want once", n)
	}

	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: "swap"})
		if err != nil {
			return err
		}
		p := o.(*objects.Pod)
		p.Spec.Containers[0].Image = good
		return tx.Update(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitPod("swap", "running its new image", running)
	creates := e.rt.Records(fake.OpCreateContainer, fake.Container("default", "swap", "app"))
	if len(creates) != 1 || creates[0].Image != good {
		t.Errorf("pod swap: containers created %+v, want one of %s", creates, good)
	}
}

// noImageConfig is a runtime that cannot report an image's user.
type noImageConfig struct{ runtime.Runtime }

// On a runtime that cannot report an image's user, a container whose
// runAsNonRoot rests on it is refused, saying why; one with a runAsUser
// does not need it.
func TestRunAsNonRootWithoutImageConfig(t *testing.T) {
	e := newEnv(t, envOpt{wrap: func(f *fake.Runtime) runtime.Runtime { return noImageConfig{f} }})
	if _, ok := e.agent.(runtime.ImageConfigReader); ok {
		t.Fatal("the wrapped runtime still reports images' users")
	}
	unknown := e.pod("unknown", "app")
	unknown.Spec.SecurityContext = &objects.PodSecurityContext{RunAsNonRoot: ptr(true)}
	known := e.pod("known", "app")
	known.Spec.SecurityContext = &objects.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(1000))}
	e.create(unknown, known)
	e.wantRefused("unknown", "app", func(p *objects.Pod) string {
		return fmt.Sprintf("container has runAsNonRoot and the runtime cannot report the image's user (it does not implement runtime.ImageConfigReader), cannot verify user is non-root (pod: %q, container: app)", podRef(p))
	})
	e.waitPod("known", "running", running)
}
