package objects

import (
	"path"
	"strings"
)

// Validation of a pod's volumes, as Kubernetes' ValidateVolumes.

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

func validateVolumes(vols []Volume, p *Path) (map[string]*VolumeSource, ErrorList) {
	var errs ErrorList
	valid := map[string]*VolumeSource{}
	seen := map[string]bool{}
	for i := range vols {
		v := &vols[i]
		ip := p.Index(i)
		np := ip.Child("name")
		el := validateVolumeSource(&v.VolumeSource, ip)
		if v.Name == "" {
			el = append(el, Required(np, ""))
		} else {
			el = appendMsgs(el, np, v.Name, IsDNS1123Label(v.Name))
		}
		if seen[v.Name] {
			el = append(el, Duplicate(np, v.Name))
		}
		seen[v.Name] = true
		if len(el) == 0 {
			valid[v.Name] = &v.VolumeSource
		}
		errs = append(errs, el...)
	}
	return valid, errs
}

func validateVolumeSource(s *VolumeSource, p *Path) ErrorList {
	var errs ErrorList
	n := 0
	one := func(name string) bool {
		if n > 0 {
			errs = append(errs, Forbidden(p.Child(name), "may not specify more than 1 volume type"))
			return false
		}
		n++
		return true
	}
	if s.EmptyDir != nil && one("emptyDir") {
		ep := p.Child("emptyDir")
		if l := s.EmptyDir.SizeLimit; l != nil && l.Sign() < 0 {
			errs = append(errs, Forbidden(ep.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
		if m := s.EmptyDir.Medium; m != StorageMediumDefault && m != StorageMediumMemory && !strings.HasPrefix(string(m), string(StorageMediumHugePages)) {
			errs = append(errs, NotSupported(ep.Child("medium"), string(m), []string{"", string(StorageMediumMemory), string(StorageMediumHugePages)}))
		}
	}
	if s.HostPath != nil && one("hostPath") {
		hp := p.Child("hostPath")
		if s.HostPath.Path == "" {
			errs = append(errs, Required(hp.Child("path"), ""))
		} else {
			errs = append(errs, validateNoBacksteps(s.HostPath.Path, hp.Child("path"))...)
		}
		if t := s.HostPath.Type; t != nil {
			switch *t {
			case HostPathUnset, HostPathDirectoryOrCreate, HostPathDirectory, HostPathFileOrCreate, HostPathFile, HostPathSocket, HostPathCharDev, HostPathBlockDev:
			default:
				errs = append(errs, NotSupported(hp.Child("type"), string(*t), []string{"", string(HostPathBlockDev), string(HostPathCharDev),
					string(HostPathDirectory), string(HostPathDirectoryOrCreate), string(HostPathFile), string(HostPathFileOrCreate), string(HostPathSocket)}))
			}
		}
	}
	if s.Secret != nil && one("secret") {
		sp := p.Child("secret")
		if s.Secret.SecretName == "" {
			errs = append(errs, Required(sp.Child("secretName"), ""))
		}
		errs = append(errs, validateFileMode(s.Secret.DefaultMode, sp.Child("defaultMode"))...)
		for i := range s.Secret.Items {
			errs = append(errs, validateKeyToPath(&s.Secret.Items[i], sp.Child("items").Index(i))...)
		}
	}
	if s.PersistentVolumeClaim != nil && one("persistentVolumeClaim") {
		if s.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, Required(p.Child("persistentVolumeClaim", "claimName"), ""))
		}
	}
	if s.Ephemeral != nil && one("ephemeral") {
		errs = append(errs, validateEphemeralVolumeSource(s.Ephemeral, p.Child("ephemeral"))...)
	}
	if s.DownwardAPI != nil && one("downwardAPI") {
		dp := p.Child("downwardAPI")
		errs = append(errs, validateFileMode(s.DownwardAPI.DefaultMode, dp.Child("defaultMode"))...)
		for i := range s.DownwardAPI.Items {
			errs = append(errs, validateDownwardAPIFile(&s.DownwardAPI.Items[i], dp.Child("items").Index(i))...)
		}
	}
	if s.ConfigMap != nil && one("configMap") {
		cp := p.Child("configMap")
		if s.ConfigMap.Name == "" {
			errs = append(errs, Required(cp.Child("name"), ""))
		}
		errs = append(errs, validateFileMode(s.ConfigMap.DefaultMode, cp.Child("defaultMode"))...)
		for i := range s.ConfigMap.Items {
			errs = append(errs, validateKeyToPath(&s.ConfigMap.Items[i], cp.Child("items").Index(i))...)
		}
	}
	if s.Projected != nil && one("projected") {
		errs = append(errs, validateProjected(s.Projected, p.Child("projected"))...)
	}
	if s.Image != nil && one("image") {
		ip := p.Child("image")
		if s.Image.Reference == "" {
			errs = append(errs, Required(ip.Child("reference"), ""))
		}
		errs = append(errs, validatePullPolicy(s.Image.PullPolicy, ip.Child("pullPolicy"))...)
	}
	if n == 0 {
		errs = append(errs, Required(p, "must specify a volume type"))
	}
	return errs
}

func validateProjected(s *ProjectedVolumeSource, p *Path) ErrorList {
	errs := validateFileMode(s.DefaultMode, p.Child("defaultMode"))
	paths := map[string]bool{}
	dup := func(file string, name string) {
		if file == "" {
			return
		}
		if paths[file] {
			errs = append(errs, Invalid(p, name, "conflicting duplicate paths"))
		}
		paths[file] = true
	}
	for i, src := range s.Sources {
		sp := p.Child("sources").Index(i)
		n := 0
		// A Secret's or ConfigMap's: a name, and its items' paths.
		named := func(pp *Path, name string, items []KeyToPath) {
			n++
			if name == "" {
				errs = append(errs, Required(pp.Child("name"), ""))
			}
			for j := range items {
				errs = append(errs, validateKeyToPath(&items[j], pp.Child("items").Index(j))...)
				dup(items[j].Path, name)
			}
		}
		if src.Secret != nil {
			named(sp.Child("secret"), src.Secret.Name, src.Secret.Items)
		}
		if src.ConfigMap != nil {
			named(sp.Child("configMap"), src.ConfigMap.Name, src.ConfigMap.Items)
		}
		if src.DownwardAPI != nil {
			n++
			pp := sp.Child("downwardAPI")
			for j := range src.DownwardAPI.Items {
				errs = append(errs, validateDownwardAPIFile(&src.DownwardAPI.Items[j], pp.Child("items").Index(j))...)
				dup(src.DownwardAPI.Items[j].Path, "")
			}
		}
		if src.ServiceAccountToken != nil {
			n++
			pp := sp.Child("serviceAccountToken")
			if e := src.ServiceAccountToken.ExpirationSeconds; e != nil {
				errs = append(errs, validateTokenExpiration(*e, pp.Child("expirationSeconds"))...)
			}
			// The path's errors name the volume's field, not the source's,
			// as Kubernetes names them.
			if src.ServiceAccountToken.Path == "" {
				errs = append(errs, Required(p.Child("path"), ""))
			} else {
				errs = append(errs, validateLocalNonReservedPath(src.ServiceAccountToken.Path, p.Child("path"))...)
			}
		}
		if c := src.ClusterTrustBundle; c != nil {
			n++
			errs = append(errs, validateClusterTrustBundleProjection(c, sp.Child("clusterTrustBundle"))...)
			dup(c.Path, c.Path)
		}
		switch {
		case n > 1:
			errs = append(errs, Forbidden(sp, "may not specify more than 1 volume type per source"))
		case n == 0:
			errs = append(errs, Required(sp, "must specify exactly 1 volume type"))
		}
	}
	return errs
}

// validateClusterTrustBundleProjection checks a projected volume's
// clusterTrustBundle source as Kubernetes' ValidateProjectedVolumeSource:
// one bundle by name, or a signer's bundles by label selector; a file path
// in the volume; a valid user.
func validateClusterTrustBundleProjection(c *ClusterTrustBundleProjection, p *Path) ErrorList {
	var errs ErrorList
	switch {
	case c.Name != nil && c.SignerName != nil:
		errs = append(errs, Invalid(p, derefForError(c), "only one of name and signerName may be used"))
	case c.Name != nil:
		np := p.Child("name")
		if *c.Name == "" {
			errs = append(errs, Required(np, "must be a valid object name"))
		}
		// A name with ':' is of a signer's bundle; its prefix names the signer.
		for _, m := range validateClusterTrustBundleName(*c.Name, clusterTrustBundleSigner(*c.Name)) {
			errs = append(errs, Invalid(np, *c.Name, "not a valid clustertrustbundlename: "+m))
		}
		if c.LabelSelector != nil {
			errs = append(errs, Invalid(p.Child("labelSelector"), derefForError(c.LabelSelector), "labelSelector must be unset if name is specified"))
		}
	case c.SignerName != nil:
		if *c.SignerName == "" {
			errs = append(errs, Required(p.Child("signerName"), "must be a valid signer name"))
		} else {
			errs = append(errs, validateSignerName(*c.SignerName, p.Child("signerName"))...)
		}
		errs = append(errs, ValidateLabelSelector(c.LabelSelector, p.Child("labelSelector"))...)
	default:
		errs = append(errs, Required(p, "either name or signerName must be specified"))
	}
	pp := p.Child("path")
	if c.Path == "" {
		errs = append(errs, Required(pp, ""))
	}
	errs = append(errs, validateIDRange(c.User, p.Child("user"))...)
	return append(errs, validateLocalNonReservedPath(c.Path, pp)...)
}

func validateFileMode(m *int32, p *Path) ErrorList {
	if m != nil && (*m > 0o777 || *m < 0) {
		return ErrorList{Invalid(p, *m, fileModeErrorMsg)}
	}
	return nil
}

func validateKeyToPath(k *KeyToPath, p *Path) ErrorList {
	var errs ErrorList
	if k.Key == "" {
		errs = append(errs, Required(p.Child("key"), ""))
	}
	if k.Path == "" {
		errs = append(errs, Required(p.Child("path"), ""))
	}
	errs = append(errs, validateLocalNonReservedPath(k.Path, p.Child("path"))...)
	return append(errs, validateFileMode(k.Mode, p.Child("mode"))...)
}

func validateDownwardAPIFile(f *DownwardAPIVolumeFile, p *Path) ErrorList {
	var errs ErrorList
	if f.Path == "" {
		errs = append(errs, Required(p.Child("path"), ""))
	}
	errs = append(errs, validateLocalNonReservedPath(f.Path, p.Child("path"))...)
	switch {
	case f.FieldRef != nil:
		errs = append(errs, validateObjectFieldSelector(f.FieldRef, volumeFieldPaths, p.Child("fieldRef"))...)
		if f.ResourceFieldRef != nil {
			errs = append(errs, Invalid(p, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case f.ResourceFieldRef != nil:
		errs = append(errs, validateResourceFieldSelector(f.ResourceFieldRef, true, p.Child("resourceFieldRef"))...)
	default:
		errs = append(errs, Required(p, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(errs, validateFileMode(f.Mode, p.Child("mode"))...)
}

func validateNoBacksteps(target string, p *Path) ErrorList {
	for _, part := range strings.Split(target, "/") {
		if part == ".." {
			return ErrorList{Invalid(p, target, "must not contain '..'")}
		}
	}
	return nil
}

func validateLocalDescendingPath(target string, p *Path) ErrorList {
	var errs ErrorList
	if path.IsAbs(target) {
		errs = append(errs, Invalid(p, target, "must be a relative path"))
	}
	return append(errs, validateNoBacksteps(target, p)...)
}

func validateLocalNonReservedPath(target string, p *Path) ErrorList {
	errs := validateLocalDescendingPath(target, p)
	if strings.HasPrefix(target, "..") {
		errs = append(errs, Invalid(p, target, "must not start with '..'"))
	}
	return errs
}
