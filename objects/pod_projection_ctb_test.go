package objects

import "testing"

// withCTBSources adds to the pod a projected volume "trust" of sources.
func withCTBSources(p *Pod, sources ...VolumeProjection) {
	p.Spec.Volumes = append(p.Spec.Volumes,
		Volume{Name: "trust", VolumeSource: VolumeSource{Projected: &ProjectedVolumeSource{Sources: sources}}})
}

// ctbSource returns a projected source of the bundle named name ("" for
// none) or of signer's bundles ("" for none), at path.
func ctbSource(name, signer, path string) VolumeProjection {
	c := &ClusterTrustBundleProjection{Path: path}
	if name != "" {
		c.Name = ptrOf(name)
	}
	if signer != "" {
		c.SignerName = ptrOf(signer)
	}
	return VolumeProjection{ClusterTrustBundle: c}
}

func TestValidatePodClusterTrustBundleProjection(t *testing.T) {
	const src = "spec.volumes[1].projected.sources[0].clusterTrustBundle"
	// with changes the source ctbSource returns.
	with := func(s VolumeProjection, change func(c *ClusterTrustBundleProjection)) VolumeProjection {
		change(s.ClusterTrustBundle)
		return s
	}
	runPodCases(t, []podCase{
		{"by name", func(p *Pod) {
			withCTBSources(p,
				with(ctbSource("example.com:my-signer:foo", "", "signer.pem"), func(c *ClusterTrustBundleProjection) { c.User = ptrOf(int64(1000)) }),
				ctbSource("ca-bundle", "", "ca.pem"))
		}, nil},
		{"by signer", func(p *Pod) {
			withCTBSources(p, with(ctbSource("", "example.com/my-signer", "certs/ca.pem"), func(c *ClusterTrustBundleProjection) {
				c.LabelSelector = &LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}
				c.Optional = ptrOf(true)
			}))
		}, nil},

		{"name and signer", func(p *Pod) { withCTBSources(p, ctbSource("ca-bundle", "example.com/my-signer", "ca.pem")) }, []string{
			src + `: Invalid value: {"name":"ca-bundle","signerName":"example.com/my-signer","path":"ca.pem"}: only one of name and signerName may be used`,
		}},
		{"neither name nor signer", func(p *Pod) { withCTBSources(p, ctbSource("", "", "ca.pem")) }, []string{
			src + ": Required value: either name or signerName must be specified",
		}},
		{"empty name", func(p *Pod) {
			withCTBSources(p, with(ctbSource("", "", "ca.pem"), func(c *ClusterTrustBundleProjection) { c.Name = ptrOf("") }))
		}, []string{
			src + ".name: Required value: must be a valid object name",
			src + `.name: Invalid value: "": not a valid clustertrustbundlename: a lowercase RFC 1123 subdomain*`,
		}},
		{"bad name", func(p *Pod) { withCTBSources(p, ctbSource("CA", "", "ca.pem")) }, []string{
			src + `.name: Invalid value: "CA": not a valid clustertrustbundlename: a lowercase RFC 1123 subdomain*`,
		}},
		{"bad name of a signer's bundle", func(p *Pod) { withCTBSources(p, ctbSource("example.com:my-signer:Foo", "", "ca.pem")) }, []string{
			src + `.name: Invalid value: "example.com:my-signer:Foo": not a valid clustertrustbundlename: a lowercase RFC 1123 subdomain*`,
		}},
		{"name with selector", func(p *Pod) {
			withCTBSources(p, with(ctbSource("ca-bundle", "", "ca.pem"), func(c *ClusterTrustBundleProjection) {
				c.LabelSelector = &LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}
			}))
		}, []string{
			src + `.labelSelector: Invalid value: {"matchLabels":{"tier":"prod"}}: labelSelector must be unset if name is specified`,
		}},
		{"empty signer", func(p *Pod) {
			withCTBSources(p, with(ctbSource("", "", "ca.pem"), func(c *ClusterTrustBundleProjection) { c.SignerName = ptrOf("") }))
		}, []string{src + ".signerName: Required value: must be a valid signer name"}},
		{"bad signer", func(p *Pod) { withCTBSources(p, ctbSource("", "example.com", "ca.pem")) }, []string{
			src + `.signerName: Invalid value: "example.com": must be a fully qualified domain and path of the form 'example.com/signer-name'`,
		}},
		{"bad selector", func(p *Pod) {
			withCTBSources(p, with(ctbSource("", "example.com/my-signer", "ca.pem"), func(c *ClusterTrustBundleProjection) {
				c.LabelSelector = &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: LabelSelectorOpIn}}}
			}))
		}, []string{
			src + ".labelSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
		}},

		{"no path", func(p *Pod) { withCTBSources(p, ctbSource("ca-bundle", "", "")) }, []string{src + ".path: Required value"}},
		{"absolute path", func(p *Pod) { withCTBSources(p, ctbSource("ca-bundle", "", "/etc/ca.pem")) }, []string{
			src + `.path: Invalid value: "/etc/ca.pem": must be a relative path`,
		}},
		{"path up", func(p *Pod) { withCTBSources(p, ctbSource("ca-bundle", "", "../ca.pem")) }, []string{
			src + `.path: Invalid value: "../ca.pem": must not contain '..'`,
			src + `.path: Invalid value: "../ca.pem": must not start with '..'`,
		}},
		{"reserved path", func(p *Pod) { withCTBSources(p, ctbSource("ca-bundle", "", "..data")) }, []string{
			src + `.path: Invalid value: "..data": must not start with '..'`,
		}},
		{"duplicate path", func(p *Pod) {
			withCTBSources(p, ctbSource("ca-bundle", "", "ca.pem"), VolumeProjection{ConfigMap: &ConfigMapProjection{
				LocalObjectReference: LocalObjectReference{Name: "c"}, Items: []KeyToPath{{Key: "k", Path: "ca.pem"}}}})
		}, []string{`spec.volumes[1].projected: Invalid value: "c": conflicting duplicate paths`}},
		{"duplicate path after", func(p *Pod) {
			withCTBSources(p, VolumeProjection{ConfigMap: &ConfigMapProjection{
				LocalObjectReference: LocalObjectReference{Name: "c"}, Items: []KeyToPath{{Key: "k", Path: "ca.pem"}}}},
				ctbSource("ca-bundle", "", "ca.pem"))
		}, []string{`spec.volumes[1].projected: Invalid value: "ca.pem": conflicting duplicate paths`}},
		{"negative user", func(p *Pod) {
			withCTBSources(p, with(ctbSource("ca-bundle", "", "ca.pem"), func(c *ClusterTrustBundleProjection) { c.User = ptrOf(int64(-1)) }))
		}, []string{src + ".user: Invalid value: -1: must be between 0 and 2147483647, inclusive"}},
		{"user too big", func(p *Pod) {
			withCTBSources(p, with(ctbSource("ca-bundle", "", "ca.pem"), func(c *ClusterTrustBundleProjection) { c.User = ptrOf(int64(1) << 31) }))
		}, []string{src + ".user: Invalid value: 2147483648: must be between 0 and 2147483647, inclusive"}},

		{"with another source", func(p *Pod) {
			s := ctbSource("ca-bundle", "", "ca.pem")
			s.ConfigMap = &ConfigMapProjection{LocalObjectReference: LocalObjectReference{Name: "c"}}
			withCTBSources(p, s)
		}, []string{"spec.volumes[1].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source"}},
	})
}
