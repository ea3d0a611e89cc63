package objects

import (
	"fmt"
	"net/netip"
	"strings"
)

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidatePodStatusUpdate: a known phase, valid pod and host IPs (at most
// one of each family, the first being podIP or hostIP), and a nominated
// node that is a valid node name, observed generations that are not
// negative.
func (p *Pod) ValidateStatusUpdate(Object) ErrorList {
	var errs ErrorList
	st := &p.Status
	sp := NewPath("status")
	const nonNegative = "must be a non-negative integer"
	if st.ObservedGeneration < 0 {
		errs = append(errs, Invalid(sp.Child("observedGeneration"), st.ObservedGeneration, nonNegative))
	}
	for i, c := range st.Conditions {
		if c.ObservedGeneration < 0 {
			errs = append(errs, Invalid(sp.Child("conditions").Index(i).Child("observedGeneration"), c.ObservedGeneration, nonNegative))
		}
	}
	switch st.Phase {
	case PodPending, PodRunning, PodSucceeded, PodFailed, PodUnknown:
	case "":
		errs = append(errs, Required(sp.Child("phase"), ""))
	default:
		errs = append(errs, NotSupported(sp.Child("phase"), string(st.Phase), podPhases))
	}
	if n := st.NominatedNodeName; n != "" {
		errs = appendMsgs(errs, sp.Child("nominatedNodeName"), n, IsDNS1123Subdomain(n))
	}
	podIPs := make([]string, len(st.PodIPs))
	for i, ip := range st.PodIPs {
		podIPs[i] = ip.IP
	}
	errs = append(errs, validateStatusIPs(st.PodIP, podIPs, sp.Child("podIP"), sp.Child("podIPs"))...)
	hostIPs := make([]string, len(st.HostIPs))
	for i, ip := range st.HostIPs {
		hostIPs[i] = ip.IP
	}
	return append(errs, validateStatusIPs(st.HostIP, hostIPs, sp.Child("hostIP"), sp.Child("hostIPs"))...)
}

// validateStatusIPs checks a pod's or its host's addresses: the primary
// one and the list, whose first entry is the primary, with at most one
// address of each family.
func validateStatusIPs(primary string, ips []string, pp, lp *Path) ErrorList {
	var errs ErrorList
	if primary != "" {
		errs = append(errs, validateIP(primary, pp)...)
	}
	v4, v6 := 0, 0
	for i, ip := range ips {
		ipp := lp.Index(i).Child("ip")
		if e := validateIP(ip, ipp); len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		if netip.MustParseAddr(ip).Unmap().Is4() {
			v4++
		} else {
			v6++
		}
	}
	if len(ips) > 0 && primary != "" && ips[0] != primary {
		errs = append(errs, Invalid(lp.Index(0).Child("ip"), ips[0], fmt.Sprintf("must equal %s (%s)", pp, primary)))
	}
	if v4 > 1 || v6 > 1 {
		errs = append(errs, Invalid(lp, strings.Join(ips, ","), "may specify no more than one IP for each IP family"))
	}
	return errs
}
