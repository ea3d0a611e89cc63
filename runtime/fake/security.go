package fake

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// checkSecurity fails the creation of a container whose runtime.Security
// a real runtime would refuse: a Localhost seccomp profile it cannot
// load, a Localhost AppArmor profile where the host has no AppArmor. The
// fake runs on the host of its test, whose files and kernel these are.
func checkSecurity(cfg *runtime.ContainerConfig) error {
	s := &cfg.Security
	if cfg.Privileged {
		return nil
	}
	if s.Seccomp.Type == runtime.ProfileLocalhost {
		if _, err := runtime.LoadSeccompProfile(s.Seccomp.Localhost); err != nil {
			return fmt.Errorf("fake: create container %s: %w", cfg.Name, err)
		}
	}
	if s.AppArmor.Type == runtime.ProfileLocalhost && !appArmorEnabled() {
		return fmt.Errorf("fake: create container %s: AppArmor profile %q: AppArmor is not enabled on the host", cfg.Name, s.AppArmor.Localhost)
	}
	return nil
}

func appArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// procStatus is what "cat /proc/self/status" prints in a fake container:
// the lines of its credentials and confinement, as the kernel writes them
// for a process run with its config. Its image has no /etc/passwd: a
// User of a uid alone runs with group 0.
func procStatus(cfg *runtime.ContainerConfig) string {
	uid, gid, _ := strings.Cut(cfg.User, ":")
	uid, gid = cmpOr(uid, "0"), cmpOr(gid, "0")
	g, _ := strconv.ParseInt(gid, 10, 64)
	groups := append([]int64{g}, cfg.Security.SupplementalGroups...)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	var gs strings.Builder
	for _, x := range groups {
		gs.WriteString(strconv.FormatInt(x, 10) + " ")
	}
	nnp, seccomp := 0, 0
	if cfg.Security.NoNewPrivileges {
		nnp = 1
	}
	if cfg.Security.Seccomp.Type != runtime.ProfileUnconfined && !cfg.Privileged {
		seccomp = 2 // SECCOMP_MODE_FILTER
	}
	return fmt.Sprintf("Uid:\t%[1]s\t%[1]s\t%[1]s\t%[1]s\nGid:\t%[2]s\t%[2]s\t%[2]s\t%[2]s\nGroups:\t%[3]s\nNoNewPrivs:\t%[4]d\nSeccomp:\t%[5]d\n",
		uid, gid, gs.String(), nnp, seccomp)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
