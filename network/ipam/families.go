package ipam

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/podkit/podkit/objects"
)

// ipFamilies defaults and checks svc's ipFamilyPolicy, ipFamilies and the
// families of its clusterIPs as Kubernetes' API server does
// (initIPFamilyFields), for a cluster whose one family is IPv4; old is the
// stored Service on an update.
func ipFamilies(svc, old *objects.Service) objects.ErrorList {
	sp := &svc.Spec
	p := objects.NewPath("spec")
	if sp.Type == objects.ServiceTypeExternalName {
		var errs objects.ErrorList
		if len(sp.IPFamilies) > 0 {
			errs = append(errs, objects.Forbidden(p.Child("ipFamilies"), "may not be set for type `ExternalName`"))
		}
		if sp.IPFamilyPolicy != nil {
			errs = append(errs, objects.Forbidden(p.Child("ipFamilyPolicy"), "may not be set for type `ExternalName`"))
		}
		return errs
	}
	// A headless Service without a selector lists Endpoints written by
	// hand, of either family, on any cluster.
	headless := svc.IsHeadless()
	manual := headless && len(sp.Selector) == 0
	if sp.IPFamilyPolicy == nil {
		policy := objects.IPFamilyPolicySingleStack
		switch {
		case old != nil && old.Spec.IPFamilyPolicy != nil:
			policy = *old.Spec.IPFamilyPolicy
		case manual:
			policy = objects.IPFamilyPolicyRequireDualStack
		}
		sp.IPFamilyPolicy = &policy
	}
	policy := *sp.IPFamilyPolicy
	errs := updateFamilies(sp, old)
	var ips []netip.Addr
	if !headless {
		for _, v := range sp.ClusterIPs {
			ip, err := netip.ParseAddr(v)
			if err != nil {
				return errs // validation reports it
			}
			ips = append(ips, ip)
		}
	}
	if errs = append(errs, checkFamilies(sp, ips)...); len(errs) > 0 {
		return errs
	}

	for i := len(sp.IPFamilies); i < len(ips); i++ {
		if f := familyOf(ips[i]); f != objects.IPv4Protocol {
			errs = append(errs, objects.Invalid(p.Child("clusterIPs").Index(i), sp.ClusterIPs,
				fmt.Sprintf("%s is not configured on this cluster", f)))
		} else {
			sp.IPFamilies = append(sp.IPFamilies, f)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if manual {
		if len(sp.IPFamilies) == 0 {
			sp.IPFamilies = []objects.IPFamily{objects.IPv4Protocol}
		}
		if len(sp.IPFamilies) == 1 && policy != objects.IPFamilyPolicySingleStack {
			sp.IPFamilies = append(sp.IPFamilies, otherFamily(sp.IPFamilies[0]))
		}
		return nil
	}
	if policy == objects.IPFamilyPolicyRequireDualStack {
		errs = append(errs, objects.Invalid(p.Child("ipFamilyPolicy"), string(policy), "this cluster is not configured for dual-stack services"))
	}
	for i, f := range sp.IPFamilies {
		if f != objects.IPv4Protocol {
			errs = append(errs, objects.Invalid(p.Child("ipFamilies").Index(i), string(f), "not configured on this cluster"))
		}
	}
	if len(errs) == 0 && len(sp.IPFamilies) == 0 {
		sp.IPFamilies = []objects.IPFamily{objects.IPv4Protocol}
	}
	return errs
}

// updateFamilies applies an update's policy to what it kept from old, the
// stored Service (nil on create): SingleStack releases the second cluster
// IP and family, as long as they are old's; another policy may not.
func updateFamilies(sp *objects.ServiceSpec, old *objects.Service) objects.ErrorList {
	if old == nil {
		return nil
	}
	policy := *sp.IPFamilyPolicy
	if policy == objects.IPFamilyPolicySingleStack {
		if len(sp.ClusterIPs) > 1 && slices.Equal(sp.ClusterIPs, old.Spec.ClusterIPs) {
			sp.ClusterIPs = sp.ClusterIPs[:1]
		}
		if len(sp.IPFamilies) > 1 && slices.Equal(sp.IPFamilies, old.Spec.IPFamilies) {
			sp.IPFamilies = sp.IPFamilies[:1]
		}
		return nil
	}
	var errs objects.ErrorList
	path := objects.NewPath("spec", "ipFamilyPolicy")
	if len(sp.ClusterIPs) > 0 && len(sp.ClusterIPs) < len(old.Spec.ClusterIPs) {
		errs = append(errs, objects.Invalid(path, string(policy), "must be 'SingleStack' to release the secondary cluster IP"))
	}
	if len(sp.IPFamilies) > 0 && len(sp.IPFamilies) < len(old.Spec.IPFamilies) {
		errs = append(errs, objects.Invalid(path, string(policy), "must be 'SingleStack' to release the secondary IP family"))
	}
	return errs
}

// checkFamilies checks that sp's policy, families and cluster IPs (ips,
// of a Service that is not headless) agree, as Kubernetes does whatever
// the cluster's families.
func checkFamilies(sp *objects.ServiceSpec, ips []netip.Addr) objects.ErrorList {
	var errs objects.ErrorList
	policy := *sp.IPFamilyPolicy
	policyPath, ipsPath := objects.NewPath("spec", "ipFamilyPolicy"), objects.NewPath("spec", "clusterIPs")
	if len(ips) == 2 && familyOf(ips[0]) == familyOf(ips[1]) {
		errs = append(errs, objects.Invalid(ipsPath, sp.ClusterIPs, "may specify no more than one IP for each IP family"))
	}
	for i, ip := range ips[:min(len(ips), len(sp.IPFamilies))] {
		if want := sp.IPFamilies[i]; familyOf(ip) != want {
			errs = append(errs, objects.Invalid(ipsPath.Index(i), sp.ClusterIPs[i],
				fmt.Sprintf("expected an %s value as indicated by `ipFamilies[%d]`", want, i)))
		}
	}
	if policy == objects.IPFamilyPolicySingleStack {
		if len(sp.ClusterIPs) == 2 {
			errs = append(errs, objects.Invalid(policyPath, string(policy), "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"))
		}
		if len(sp.IPFamilies) == 2 {
			errs = append(errs, objects.Invalid(policyPath, string(policy), "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"))
		}
	}
	return errs
}

func familyOf(ip netip.Addr) objects.IPFamily {
	if ip.Unmap().Is4() {
		return objects.IPv4Protocol
	}
	return objects.IPv6Protocol
}

func otherFamily(f objects.IPFamily) objects.IPFamily {
	if f == objects.IPv4Protocol {
		return objects.IPv6Protocol
	}
	return objects.IPv4Protocol
}
