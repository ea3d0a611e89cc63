// Package owner marks what a process makes and may leave behind if it
// dies (a directory being made, a network interface) with the identity of
// the process, so that another process can tell whether its maker still
// lives. A pid alone may have been reused since, so a mark holds the
// process's start time as well.
package owner

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Self returns this process's mark, "PID START".
func Self() (string, error) {
	st, err := processStart(os.Getpid())
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d %s", os.Getpid(), st), nil
}

// Alive reports whether the process that mark names runs. A mark that is
// not one (such as an empty string) names no live process.
func Alive(mark string) bool {
	var pid int
	var start string
	if _, err := fmt.Sscanf(mark, "%d %s", &pid, &start); err != nil {
		return false
	}
	st, err := processStart(pid)
	return err == nil && st == start
}

// processStart returns the start time of process pid (field 22 of
// /proc/pid/stat), which tells a live process from a reused pid.
func processStart(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", errors.New("unexpected /proc/pid/stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", errors.New("unexpected /proc/pid/stat")
	}
	return f[19], nil
}
