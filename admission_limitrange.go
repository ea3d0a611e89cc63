package podkit

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// admitLimitRanges does what Kubernetes' LimitRanger admission plugin
// does with the LimitRanges of the namespace: a new pod's containers and
// init containers get the Container items' defaultRequest and default
// where they set no request or limit of a resource (recorded in
// objects.AnnotationLimitRanger), then the pod is
// refused unless each container (Container items) and the pod as a whole
// (Pod items) keep within min, max and maxLimitRequestRatio; a claim,
// new or updated, unless its storage request keeps within the
// PersistentVolumeClaim items' min and max. A default that leaves a
// request above its limit makes the pod invalid, as the validation that
// follows Kubernetes' admission finds.
func admitLimitRanges(tx store.ReadTx, obj, old objects.Object) error {
	var claim *objects.PersistentVolumeClaim
	pod, isPod := obj.(*objects.Pod)
	switch {
	case isPod && old == nil:
	case old != nil && old.GetObjectMeta().DeletionTimestamp != nil:
		return nil
	default:
		var ok bool
		if claim, ok = obj.(*objects.PersistentVolumeClaim); !ok {
			return nil
		}
	}
	objs, err := store.PeekList(tx, KindLimitRange, store.ListOptions{Namespace: obj.GetObjectMeta().Namespace})
	if err != nil || len(objs) == 0 {
		return err
	}
	if claim != nil {
		for _, o := range objs {
			if err := validateClaimLimits(o.(*objects.LimitRange), claim); err != nil {
				return fmt.Errorf("persistentvolumeclaims %q is forbidden: %w: %w", objectName(&claim.ObjectMeta), err, ErrForbidden)
			}
		}
		return nil
	}
	changed := false
	for _, o := range objs {
		changed = applyContainerDefaults(o.(*objects.LimitRange), pod) || changed
	}
	if changed {
		var errs objects.ErrorList
		for i := range pod.Spec.InitContainers {
			errs = append(errs, objects.ValidateResourceRequirements(&pod.Spec.InitContainers[i].Resources,
				objects.NewPath("spec", "initContainers").Index(i).Child("resources"))...)
		}
		for i := range pod.Spec.Containers {
			errs = append(errs, objects.ValidateResourceRequirements(&pod.Spec.Containers[i].Resources,
				objects.NewPath("spec", "containers").Index(i).Child("resources"))...)
		}
		if err := errs.ToError(KindPod, objectName(&pod.ObjectMeta)); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if err := validatePodLimits(o.(*objects.LimitRange), pod); err != nil {
			return fmt.Errorf("pods %q is forbidden: %w: %w", objectName(&pod.ObjectMeta), err, ErrForbidden)
		}
	}
	return nil
}

// applyContainerDefaults gives pod's containers lr's defaults where they
// set none, and records what it set in objects.AnnotationLimitRanger, as
// Kubernetes' PodMutateLimitFunc (each LimitRange that sets something
// replaces the annotation). The pod's slices and maps are replaced, not
// modified: a controller's pods share them with its template.
func applyContainerDefaults(lr *objects.LimitRange, pod *objects.Pod) bool {
	var limits, requests objects.ResourceList
	for i := range lr.Spec.Limits {
		if it := &lr.Spec.Limits[i]; it.Type == objects.LimitTypeContainer {
			limits = withDefaults(limits, it.Default)
			requests = withDefaults(requests, it.DefaultRequest)
		}
	}
	if len(limits) == 0 && len(requests) == 0 {
		return false
	}
	var notes []string
	pod.Spec.Containers, notes = mergeResources(pod.Spec.Containers, limits, requests, "container", notes)
	pod.Spec.InitContainers, notes = mergeResources(pod.Spec.InitContainers, limits, requests, "init container", notes)
	if len(notes) == 0 {
		return false
	}
	pod.Annotations = maps.Clone(pod.Annotations)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[objects.AnnotationLimitRanger] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
	return true
}

// withDefaults returns l with src's entries (a later item's replace an
// earlier one's, as Kubernetes reads them into one list).
func withDefaults(l, src objects.ResourceList) objects.ResourceList {
	for name, q := range src {
		if l == nil {
			l = objects.ResourceList{}
		}
		l[name] = q
	}
	return l
}

// mergeResources returns cs with the limits and requests each container
// lacks, cs itself when none lacks any, and notes what it set.
func mergeResources(cs []objects.Container, limits, requests objects.ResourceList, what string, notes []string) ([]objects.Container, []string) {
	copied := false
	for i := range cs {
		r := cs[i].Resources
		lim, setLim := fill(r.Limits, limits)
		req, setReq := fill(r.Requests, requests)
		if len(setLim) == 0 && len(setReq) == 0 {
			continue
		}
		if !copied {
			cs, copied = slices.Clone(cs), true
		}
		cs[i].Resources = objects.ResourceRequirements{Limits: lim, Requests: req}
		if len(setReq) > 0 {
			notes = append(notes, fmt.Sprintf("%s request for %s %s", strings.Join(setReq, ", "), what, cs[i].Name))
		}
		if len(setLim) > 0 {
			notes = append(notes, fmt.Sprintf("%s limit for %s %s", strings.Join(setLim, ", "), what, cs[i].Name))
		}
	}
	return cs, notes
}

// fill returns have with the entries of defaults it lacks (a copy when it
// lacks some) and their sorted names.
func fill(have, defaults objects.ResourceList) (objects.ResourceList, []string) {
	var set []string
	out := have
	for name, q := range defaults {
		if _, ok := have[name]; ok {
			continue
		}
		if len(set) == 0 {
			out = maps.Clone(have)
			if out == nil {
				out = objects.ResourceList{}
			}
		}
		out[name] = q
		set = append(set, string(name))
	}
	slices.Sort(set)
	return out, set
}

// validatePodLimits checks pod against lr's Container and Pod items, as
// Kubernetes' PodValidateLimitFunc, and returns every violation.
func validatePodLimits(lr *objects.LimitRange, pod *objects.Pod) error {
	var errs []error
	for i := range lr.Spec.Limits {
		it := &lr.Spec.Limits[i]
		switch it.Type {
		case objects.LimitTypeContainer:
			for _, cs := range [2][]objects.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
				for j := range cs {
					errs = append(errs, checkItem(it, cs[j].Resources.Requests, cs[j].Resources.Limits)...)
				}
			}
		case objects.LimitTypePod:
			errs = append(errs, checkItem(it, objects.PodRequests(pod), objects.PodLimits(pod))...)
		}
	}
	return aggregate(errs)
}

// checkItem checks requests and limits against an item's min, max and
// maxLimitRequestRatio.
func checkItem(it *objects.LimitRangeItem, requests, limits objects.ResourceList) []error {
	var errs []error
	t := string(it.Type)
	for _, name := range sortedNames(it.Min) {
		if err := minConstraint(t, name, it.Min[name], requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range sortedNames(it.Max) {
		if err := maxConstraint(t, name, it.Max[name], requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range sortedNames(it.MaxLimitRequestRatio) {
		if err := ratioConstraint(t, name, it.MaxLimitRequestRatio[name], requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validateClaimLimits checks a claim's storage request against lr's
// PersistentVolumeClaim items, as Kubernetes'
// PersistentVolumeClaimValidateLimitFunc.
func validateClaimLimits(lr *objects.LimitRange, c *objects.PersistentVolumeClaim) error {
	var errs []error
	requests := c.Spec.Resources.Requests
	for i := range lr.Spec.Limits {
		it := &lr.Spec.Limits[i]
		if it.Type != objects.LimitTypePersistentVolumeClaim {
			continue
		}
		t := string(it.Type)
		for _, name := range sortedNames(it.Min) {
			if err := minConstraint(t, name, it.Min[name], requests, nil); err != nil {
				errs = append(errs, err)
			}
		}
		for _, name := range sortedNames(it.Max) {
			req, ok := requests[name]
			r, _, e := enforcedValues(req, objects.Quantity{}, it.Max[name])
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, t, it.Max[name].String()))
			case r > e:
				errs = append(errs, fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, it.Max[name].String(), req.String()))
			}
		}
	}
	return aggregate(errs)
}

// enforcedValues returns request, limit and enforced in thousandths when
// all fit, else in units, as Kubernetes' requestLimitEnforcedValues.
func enforcedValues(request, limit, enforced objects.Quantity) (r, l, e int64) {
	const maxMilli = int64(^uint64(0)>>1) / 1000
	r, l, e = request.Value(), limit.Value(), enforced.Value()
	if r <= maxMilli && l <= maxMilli && e <= maxMilli {
		r, l, e = request.MilliValue(), limit.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(t string, name objects.ResourceName, enforced objects.Quantity, requests, limits objects.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := enforcedValues(req, lim, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, t, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, t, enforced.String(), req.String())
	case hasLim && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, t, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(t string, name objects.ResourceName, enforced objects.Quantity, requests, limits objects.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := enforcedValues(req, lim, enforced)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, t, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, t, enforced.String(), lim.String())
	case hasReq && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(t string, name objects.ResourceName, enforced objects.Quantity, requests, limits objects.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, _ := enforcedValues(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, t, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, t, enforced.String())
	}
	ratio := float64(l) / float64(r)
	observed, bound := ratio, float64(enforced.Value())
	if enforced.Value() <= int64(^uint64(0)>>1)/1000 {
		observed, bound = ratio*1000, float64(enforced.MilliValue())
	}
	if observed > bound {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, t, enforced.String(), ratio)
	}
	return nil
}

// aggregate joins errors as apimachinery's aggregate prints them: one
// alone, several in brackets, duplicates once.
func aggregate(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	var msgs []string
	for _, err := range errs {
		if m := err.Error(); !slices.Contains(msgs, m) {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("[%s]", strings.Join(msgs, ", "))
}

func sortedNames(l objects.ResourceList) []objects.ResourceName {
	return slices.Sorted(maps.Keys(l))
}
