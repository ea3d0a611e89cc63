package fake

import (
	"hash/maphash"
	"slices"

	"github.com/podkit/podkit/runtime"
)

// spec is what a container was created with beyond what its status
// reports: what Configs returns, scripted commands and the dialer read.
// Containers created with equal ones share one, counted in refs: every
// replica of a Deployment has the same, and at scale a copy each was most
// of what a container cost.
type spec struct {
	cfg  runtime.ContainerConfig // Name, Attempt, Image and Labels are zero
	hash uint64
	refs int
}

// internSpec returns the spec of cfg, shared with the containers created
// with an equal one. r.mu is held.
func (r *Runtime) internSpec(cfg *runtime.ContainerConfig) *spec {
	h := hashSpec(r.specSeed, cfg)
	for _, s := range r.specs[h] {
		if sameSpec(&s.cfg, cfg) {
			s.refs++
			return s
		}
	}
	s := &spec{cfg: cloneConfig(cfg), hash: h, refs: 1}
	s.cfg.Name, s.cfg.Attempt, s.cfg.Image, s.cfg.Labels = "", 0, "", nil
	r.specs[h] = append(r.specs[h], s)
	return s
}

// releaseSpec drops a container's reference to s. r.mu is held.
func (r *Runtime) releaseSpec(s *spec) {
	if s.refs--; s.refs > 0 {
		return
	}
	bucket := slices.DeleteFunc(r.specs[s.hash], func(x *spec) bool { return x == s })
	if len(bucket) == 0 {
		delete(r.specs, s.hash)
	} else {
		r.specs[s.hash] = bucket
	}
}

// sameSpec reports whether a and b are equal but for Name, Attempt, Image
// and Labels. A nil slice differs from an empty one, as Configs tells them
// apart.
func sameSpec(a, b *runtime.ContainerConfig) bool {
	return same(a.Command, b.Command) && same(a.Args, b.Args) && a.WorkingDir == b.WorkingDir &&
		same(a.Env, b.Env) && same(a.Mounts, b.Mounts) && a.Resources == b.Resources &&
		same(a.Ports, b.Ports) && a.Stdin == b.Stdin && a.TTY == b.TTY && a.User == b.User &&
		a.Privileged == b.Privileged && a.ReadOnly == b.ReadOnly &&
		same(a.CapAdd, b.CapAdd) && same(a.CapDrop, b.CapDrop) &&
		a.TerminationMessagePath == b.TerminationMessagePath && a.TargetContainerID == b.TargetContainerID &&
		a.Security.Equal(b.Security)
}

func same[S ~[]E, E comparable](a, b S) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}

// hashSpec hashes what sameSpec compares.
func hashSpec(seed maphash.Seed, c *runtime.ContainerConfig) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, ss := range [][]string{c.Command, c.Args, c.CapAdd, c.CapDrop} {
		maphash.WriteComparable(&h, len(ss))
		for _, s := range ss {
			maphash.WriteComparable(&h, s)
		}
	}
	for _, e := range c.Env {
		maphash.WriteComparable(&h, e)
	}
	for _, m := range c.Mounts {
		maphash.WriteComparable(&h, m)
	}
	for _, p := range c.Ports {
		maphash.WriteComparable(&h, p)
	}
	maphash.WriteComparable(&h, c.Resources)
	maphash.WriteComparable(&h, c.WorkingDir)
	maphash.WriteComparable(&h, c.User)
	maphash.WriteComparable(&h, c.TerminationMessagePath)
	maphash.WriteComparable(&h, c.TargetContainerID)
	maphash.WriteComparable(&h, [...]bool{c.Stdin, c.TTY, c.Privileged, c.ReadOnly})
	s := &c.Security
	for _, g := range s.SupplementalGroups {
		maphash.WriteComparable(&h, g)
	}
	maphash.WriteComparable(&h, [...]bool{s.StrictGroups, s.NoNewPrivileges})
	maphash.WriteComparable(&h, s.Seccomp)
	maphash.WriteComparable(&h, s.AppArmor)
	if s.SELinux != nil {
		maphash.WriteComparable(&h, *s.SELinux)
	}
	return h.Sum64()
}
