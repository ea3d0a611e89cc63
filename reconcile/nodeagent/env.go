package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// resolver reads what one pod refers to (ConfigMaps, Secrets, claims, its
// node), once per sync, and resolves downward API fields. It implements
// volumes.Source.
type resolver struct {
	a     *Agent
	ctx   context.Context
	pod   *objects.Pod
	podIP string
	cache map[string]objects.Object // made by the first read: most pods refer to nothing
	errs  map[string]error
	svcs  *[]*objects.Service
}

func (a *Agent) resolver(ctx context.Context, pod *objects.Pod, podIP string) *resolver {
	return &resolver{a: a, ctx: ctx, pod: pod, podIP: podIP}
}

func (r *resolver) get(kind, namespace, name string) (objects.Object, error) {
	k := kind + "/" + namespace + "/" + name
	if o, ok := r.cache[k]; ok {
		return o, r.errs[k]
	}
	var obj objects.Object
	err := r.a.store.View(r.ctx, func(tx store.ReadTx) error {
		var err error
		obj, err = tx.Get(kind, objects.Key{Namespace: namespace, Name: name})
		return err
	})
	if r.cache == nil {
		r.cache, r.errs = map[string]objects.Object{}, map[string]error{}
	}
	r.cache[k], r.errs[k] = obj, err
	return obj, err
}

// ConfigMap implements volumes.Source.
func (r *resolver) ConfigMap(namespace, name string) (*objects.ConfigMap, error) {
	o, err := r.get("ConfigMap", namespace, name)
	if err != nil {
		return nil, err
	}
	return o.(*objects.ConfigMap), nil
}

// Secret implements volumes.Source.
func (r *resolver) Secret(namespace, name string) (*objects.Secret, error) {
	o, err := r.get("Secret", namespace, name)
	if err != nil {
		return nil, err
	}
	return o.(*objects.Secret), nil
}

// ClusterTrustBundle implements volumes.TrustBundleSource.
func (r *resolver) ClusterTrustBundle(name string) (*objects.ClusterTrustBundle, error) {
	o, err := r.get("ClusterTrustBundle", "", name)
	if err != nil {
		return nil, err
	}
	return o.(*objects.ClusterTrustBundle), nil
}

// ClusterTrustBundles implements volumes.TrustBundleSource.
func (r *resolver) ClusterTrustBundles() ([]*objects.ClusterTrustBundle, error) {
	var out []*objects.ClusterTrustBundle
	err := r.a.store.View(r.ctx, func(tx store.ReadTx) error {
		objs, err := store.PeekList(tx, "ClusterTrustBundle", store.ListOptions{})
		for _, o := range objs {
			out = append(out, o.(*objects.ClusterTrustBundle))
		}
		return err
	})
	return out, err
}

// ClaimPath implements volumes.Source: the path of the hostPath or local
// volume bound to the claim.
func (r *resolver) ClaimPath(namespace, claim string) (string, error) {
	o, err := r.get("PersistentVolumeClaim", namespace, claim)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("persistentvolumeclaim %q not found", claim)
		}
		return "", err
	}
	pvc := o.(*objects.PersistentVolumeClaim)
	if pvc.Status.Phase != objects.ClaimBound || pvc.Spec.VolumeName == "" {
		return "", fmt.Errorf("persistentvolumeclaim %q is not bound", claim)
	}
	o, err = r.get("PersistentVolume", "", pvc.Spec.VolumeName)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("persistentvolume %q bound to claim %q not found", pvc.Spec.VolumeName, claim)
		}
		return "", err
	}
	pv := o.(*objects.PersistentVolume)
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, nil
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("persistentvolume %q has no hostPath or local source this node can mount", pv.Name)
}

// FieldRef implements volumes.Source.
func (r *resolver) FieldRef(sel *objects.ObjectFieldSelector) (string, error) {
	p := r.pod
	path := sel.FieldPath
	if k, ok := subscript(path, "metadata.labels"); ok {
		return p.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return p.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return p.UID, nil
	case "metadata.labels":
		return formatMap(p.Labels), nil
	case "metadata.annotations":
		return formatMap(p.Annotations), nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return r.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return r.a.hostIP(), nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// subscript reads "prefix['key']".
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// ResourceFieldRef implements volumes.Source.
func (r *resolver) ResourceFieldRef(sel *objects.ResourceFieldSelector) (string, error) {
	return r.resourceValue(sel.ContainerName, sel)
}

func (r *resolver) resourceValue(container string, sel *objects.ResourceFieldSelector) (string, error) {
	if sel.ContainerName != "" {
		container = sel.ContainerName
	}
	var c *objects.Container
	for _, cs := range [][]objects.Container{r.pod.Spec.Containers, r.pod.Spec.InitContainers} {
		for i := range cs {
			if cs[i].Name == container {
				c = &cs[i]
			}
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: container %q not found in pod", container)
	}
	kind, res, ok := strings.Cut(sel.Resource, ".")
	if !ok || kind != "limits" && kind != "requests" {
		return "", fmt.Errorf("unsupported resource %q", sel.Resource)
	}
	name := objects.ResourceName(res)
	var q objects.Quantity
	var set bool
	if kind == "limits" {
		q, set = c.Resources.Limits[name]
		if !set {
			q = r.allocatable(name)
		}
	} else {
		q = c.Resources.Requests[name]
	}
	div := sel.Divisor
	if div.Sign() <= 0 {
		div = objects.MustParseQuantity("1")
	}
	if name == objects.ResourceCPU {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(div.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(div.Value()))), 10), nil
}

// allocatable is the node's allocatable amount of a resource, the value of
// an unset limit.
func (r *resolver) allocatable(name objects.ResourceName) objects.Quantity {
	o, err := r.get("Node", "", r.a.node)
	if err != nil {
		return objects.Quantity{}
	}
	return o.(*objects.Node).Status.Allocatable[name]
}

// configError is a container's configuration that cannot be built yet: a
// missing ConfigMap, Secret, env file or key (CreateContainerConfigError).
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErr(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// makeEnv builds a container's environment: envFrom in order, then env,
// later entries overriding earlier ones, with $(VAR) references expanded
// as Kubernetes does. vols are the pod's volumes, where fileKeyRefs read.
func (r *resolver) makeEnv(c *objects.Container, vols map[string]volumes.Volume) ([]runtime.EnvVar, error) {
	var out []runtime.EnvVar
	idx := map[string]int{}
	set := func(k, v string) {
		if i, ok := idx[k]; ok {
			out[i].Value = v
			return
		}
		idx[k] = len(out)
		out = append(out, runtime.EnvVar{Name: k, Value: v})
	}
	lookup := func(k string) (string, bool) {
		if i, ok := idx[k]; ok {
			return out[i].Value, true
		}
		return "", false
	}
	ns := r.pod.Namespace
	if links := r.pod.Spec.EnableServiceLinks; links == nil || *links {
		svcs, err := r.services()
		if err != nil {
			return nil, err
		}
		for _, v := range serviceEnv(svcs) {
			set(v.Name, v.Value)
		}
	}
	for _, ef := range c.EnvFrom {
		var data map[string]string
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := r.ConfigMap(ns, ef.ConfigMapRef.Name)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					if optional(ef.ConfigMapRef.Optional) {
						continue
					}
					return nil, configErr("configmap %q not found", ef.ConfigMapRef.Name)
				}
				return nil, err
			}
			data = cm.Data
		case ef.SecretRef != nil:
			s, err := r.Secret(ns, ef.SecretRef.Name)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					if optional(ef.SecretRef.Optional) {
						continue
					}
					return nil, configErr("secret %q not found", ef.SecretRef.Name)
				}
				return nil, err
			}
			data = make(map[string]string, len(s.Data))
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if len(objects.IsEnvVarName(ef.Prefix+k)) > 0 {
				continue // as the kubelet does, with an event it words as a warning
			}
			set(ef.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, ok, err := r.envValueFrom(c, e.ValueFrom, vols)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	return out, nil
}

func optional(b *bool) bool { return b != nil && *b }

// envValueFrom resolves a valueFrom; ok is false for an optional source
// that is missing (the variable is then not set).
func (r *resolver) envValueFrom(c *objects.Container, vf *objects.EnvVarSource, vols map[string]volumes.Volume) (string, bool, error) {
	ns := r.pod.Namespace
	switch {
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		cm, err := r.ConfigMap(ns, ref.Name)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				if optional(ref.Optional) {
					return "", false, nil
				}
				return "", false, configErr("configmap %q not found", ref.Name)
			}
			return "", false, err
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, true, nil
		}
		if v, ok := cm.BinaryData[ref.Key]; ok {
			return string(v), true, nil
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, configErr("couldn't find key %s in ConfigMap %s/%s", ref.Key, ns, ref.Name)
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		s, err := r.Secret(ns, ref.Name)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				if optional(ref.Optional) {
					return "", false, nil
				}
				return "", false, configErr("secret %q not found", ref.Name)
			}
			return "", false, err
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), true, nil
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, configErr("couldn't find key %s in Secret %s/%s", ref.Key, ns, ref.Name)
	case vf.FieldRef != nil:
		v, err := r.FieldRef(vf.FieldRef)
		if err != nil {
			return "", false, configErr("%v", err)
		}
		return v, true, nil
	case vf.ResourceFieldRef != nil:
		v, err := r.resourceValue(c.Name, vf.ResourceFieldRef)
		if err != nil {
			return "", false, configErr("%v", err)
		}
		return v, true, nil
	case vf.FileKeyRef != nil:
		return fileKeyValue(vf.FileKeyRef, vols)
	}
	return "", false, nil
}

// expand replaces $(VAR) references with the values lookup knows, leaves
// unknown ones as they are, and turns $$ into $, as Kubernetes does in env
// values, commands and args (third_party/forked/golang/expansion's
// Expand): a $( without a closing ) is written out and the scan goes on
// after it.
func expand(s string, lookup func(string) (string, bool)) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	var b strings.Builder
	done := 0 // s[:done] is written
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			continue
		}
		b.WriteString(s[done:i])
		r, size := utf8.DecodeRuneInString(s[i+1:])
		switch r {
		case '$':
			b.WriteByte('$')
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				break
			}
			if v, ok := lookup(s[i+2 : i+2+end]); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			size = end + 2
		default:
			b.WriteByte('$')
			b.WriteRune(r)
		}
		i += size
		done = i + 1
	}
	b.WriteString(s[done:])
	return b.String()
}

// services lists the Services of the pod's namespace, once per sync.
func (r *resolver) services() ([]*objects.Service, error) {
	if r.svcs != nil {
		return *r.svcs, nil
	}
	var out []*objects.Service
	err := r.a.store.View(r.ctx, func(tx store.ReadTx) error {
		list, err := tx.List("Service", store.ListOptions{Namespace: r.pod.Namespace})
		for _, o := range list {
			out = append(out, o.(*objects.Service))
		}
		return err
	})
	if errors.Is(err, store.ErrUnknownKind) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	r.svcs = &out
	return out, nil
}

// serviceEnv is the Docker-links style environment Kubernetes gives a pod
// for each Service of its namespace that has a cluster IP (enableServiceLinks).
func serviceEnv(svcs []*objects.Service) []runtime.EnvVar {
	var out []runtime.EnvVar
	add := func(k, v string) { out = append(out, runtime.EnvVar{Name: k, Value: v}) }
	for _, s := range svcs {
		ip := s.Spec.ClusterIP
		if ip == "" || ip == objects.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		name := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
		first := s.Spec.Ports[0]
		add(name+"_SERVICE_HOST", ip)
		add(name+"_SERVICE_PORT", strconv.Itoa(int(first.Port)))
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				add(name+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port)))
			}
		}
		proto := func(p objects.ServicePort) string {
			if p.Protocol == "" {
				return "tcp"
			}
			return strings.ToLower(string(p.Protocol))
		}
		hostPort := func(p objects.ServicePort) string { return net.JoinHostPort(ip, strconv.Itoa(int(p.Port))) }
		add(name+"_PORT", proto(first)+"://"+hostPort(first))
		for _, p := range s.Spec.Ports {
			pre := name + "_PORT_" + strconv.Itoa(int(p.Port)) + "_" + strings.ToUpper(proto(p))
			add(pre, proto(p)+"://"+hostPort(p))
			add(pre+"_PROTO", proto(p))
			add(pre+"_PORT", strconv.Itoa(int(p.Port)))
			add(pre+"_ADDR", ip)
		}
	}
	return out
}
