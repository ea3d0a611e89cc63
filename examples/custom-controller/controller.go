package main

import (
	"context"
	"errors"
	"maps"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

// websiteController returns the controller that keeps, for every Website,
// a Deployment and a Service of the same name, owned by it (so the garbage
// collector deletes them with it), and reports the Deployment's available
// replicas in the Website's status.
func websiteController(c *reconcile.Client) reconcile.Controller {
	return reconcile.Controller{
		Name:       "website",
		For:        "Website",
		Owns:       []string{"Deployment", "Service"}, // their changes reconcile the owning Website
		Reconciler: &websiteReconciler{c: c},
	}
}

type websiteReconciler struct{ c *reconcile.Client }

// Reconcile is level-based: it reads the Website and what it owns and
// writes only what differs, so running it again changes nothing.
func (r *websiteReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	w, err := reconcile.Get[*Website](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) || err == nil && w.IsDeleting() {
		return reconcile.Result{}, nil // the garbage collector removes what it owned
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	dep, err := r.ensureDeployment(ctx, w)
	if err != nil {
		return reconcile.Result{}, err
	}
	if err := r.ensureService(ctx, w); err != nil {
		return reconcile.Result{}, err
	}
	if w.Status.AvailableReplicas != dep.Status.AvailableReplicas {
		w.Status.AvailableReplicas = dep.Status.AvailableReplicas
		if err := r.c.UpdateStatus(ctx, w); err != nil {
			return reconcile.Result{}, err
		}
	}
	return reconcile.Result{}, nil
}

func labelsOf(w *Website) map[string]string {
	return map[string]string{"app.kubernetes.io/name": w.Name, "app.kubernetes.io/managed-by": "website-controller"}
}

func (r *websiteReconciler) ensureDeployment(ctx context.Context, w *Website) (*objects.Deployment, error) {
	replicas := w.Spec.Replicas
	labels := labelsOf(w)
	want := objects.DeploymentSpec{
		Replicas: &replicas,
		Selector: &objects.LabelSelector{MatchLabels: labels},
		Template: objects.PodTemplateSpec{
			ObjectMeta: objects.ObjectMeta{Labels: labels},
			Spec: objects.PodSpec{Containers: []objects.Container{{
				Name: "web", Image: w.Spec.Image,
				Ports: []objects.ContainerPort{{Name: "http", ContainerPort: 8080}},
				// Ready only once it answers: the Service sends no traffic
				// to a pod still starting.
				ReadinessProbe: &objects.Probe{
					ProbeHandler:  objects.ProbeHandler{HTTPGet: &objects.HTTPGetAction{Path: "/healthz", Port: objects.FromString("http")}},
					PeriodSeconds: 1,
				},
			}}},
		},
	}
	dep, err := reconcile.Get[*objects.Deployment](ctx, r.c, objects.Key{Namespace: w.Namespace, Name: w.Name})
	if errors.Is(err, store.ErrNotFound) {
		dep = &objects.Deployment{
			ObjectMeta: objects.ObjectMeta{Namespace: w.Namespace, Name: w.Name, Labels: labels,
				OwnerReferences: []objects.OwnerReference{reconcile.NewControllerRef(w)}},
			Spec: want,
		}
		return dep, r.c.Create(ctx, dep)
	}
	if err != nil {
		return nil, err
	}
	if !isControlledBy(&dep.ObjectMeta, w) {
		return nil, reconcile.Terminal(errors.New("deployment " + dep.Name + " exists and is not owned by website " + w.Name))
	}
	if *dep.Spec.Replicas != replicas || dep.Spec.Template.Spec.Containers[0].Image != w.Spec.Image {
		dep.Spec.Replicas = &replicas
		dep.Spec.Template.Spec.Containers[0].Image = w.Spec.Image
		return dep, r.c.Update(ctx, dep)
	}
	return dep, nil
}

func (r *websiteReconciler) ensureService(ctx context.Context, w *Website) error {
	labels := labelsOf(w)
	svc, err := reconcile.Get[*objects.Service](ctx, r.c, objects.Key{Namespace: w.Namespace, Name: w.Name})
	if errors.Is(err, store.ErrNotFound) {
		return r.c.Create(ctx, &objects.Service{
			ObjectMeta: objects.ObjectMeta{Namespace: w.Namespace, Name: w.Name, Labels: labels,
				OwnerReferences: []objects.OwnerReference{reconcile.NewControllerRef(w)}},
			Spec: objects.ServiceSpec{
				Selector: labels,
				Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromString("http")}},
			},
		})
	}
	if err != nil {
		return err
	}
	if !isControlledBy(&svc.ObjectMeta, w) {
		return reconcile.Terminal(errors.New("service " + svc.Name + " exists and is not owned by website " + w.Name))
	}
	if !maps.Equal(svc.Spec.Selector, labels) {
		svc.Spec.Selector = labels
		return r.c.Update(ctx, svc)
	}
	return nil
}

func isControlledBy(m *objects.ObjectMeta, w *Website) bool {
	ref := m.ControllerRef()
	return ref != nil && ref.UID == w.UID
}
