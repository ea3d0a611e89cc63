package gogettest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

const modulePath = "github.com/podkit/podkit"

// The host program is the complete program README.md shows first (its
// first ```go block that is a main package): a user copying it into a new
// module gets what this test gets. It registers a fake node, applies a
// Deployment of two replicas, waits until it is Available and prints it and
// its pods.
const (
	wantDeployment = "deployment web: 2/2 available"
	wantPodLine    = " Running node-1 " // name, phase, node, IP
	wantPods       = 2
)

// readmeProgram returns the first fenced Go block of README.md that is a
// main package.
func readmeProgram(t *testing.T, root string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rest := string(readme)
	for {
		_, after, ok := strings.Cut(rest, "```go\n")
		if !ok {
			t.Fatal("README.md has no ```go block holding a complete program (package main): " +
				"this test builds and runs that program as a user's module")
		}
		block, tail, ok := strings.Cut(after, "\n```")
		if !ok {
			t.Fatal("README.md: unterminated ```go block")
		}
		if strings.HasPrefix(block, "package main\n") {
			return block + "\n"
		}
		rest = tail
	}
}

// TestGoGet packs the working tree as a version of github.com/podkit/podkit
// behind a file-based module proxy, then builds and runs a separate module
// that requires it, as a user's `go get` would. Other modules come from the
// module cache or the usual proxy; the build cache is shared.
func TestGoGet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds podkit in a separate module; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	env := goEnv(t, goBin)
	root := filepath.Dir(env["GOMOD"])
	if env["GOMOD"] == "" || env["GOMOD"] == os.DevNull {
		t.Fatalf("go env GOMOD = %q: not inside the podkit module", env["GOMOD"])
	}

	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", goMod, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Module == nil || mf.Module.Mod.Path != modulePath {
		t.Fatalf("go.mod declares module %v, want %s", mf.Module, modulePath)
	}
	for _, r := range mf.Replace {
		// A replace directive works only in podkit's own builds: a user's go
		// get ignores it and would resolve a different dependency.
		t.Errorf("go.mod:%d: replace %s => %s: replace directives are ignored when podkit is a dependency",
			r.Syntax.Start.Line, r.Old, r.New)
	}
	goSum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}

	proxy := t.TempDir()
	version := writeProxy(t, proxy, root, goMod)
	t.Logf("packed %s as %s@%s", root, modulePath, version)
	// The version is derived from the content, so the module cache never
	// holds a different tree under it; still, leave no copy behind.
	t.Cleanup(func() { removeFromModCache(t, env["GOMODCACHE"], version) })

	host := t.TempDir()
	goVersion := "1.26"
	if mf.Go != nil {
		goVersion = mf.Go.Version
	}
	writeFile(t, filepath.Join(host, "go.mod"), fmt.Sprintf("module example.com/host\n\ngo %s\n", goVersion))
	// podkit's own go.sum covers every dependency podkit builds with, so the
	// host's checks of them need no checksum database.
	writeFile(t, filepath.Join(host, "go.sum"), string(goSum))
	writeFile(t, filepath.Join(host, "main.go"), readmeProgram(t, root))

	upstream := env["GOPROXY"]
	if upstream == "" {
		upstream = "off"
	}
	sumdb := env["GOSUMDB"]
	if sumdb == "" {
		sumdb = "sum.golang.org"
	}
	cmdEnv := withEnv(os.Environ(), map[string]string{
		"GOPROXY":     "file://" + filepath.ToSlash(proxy) + "," + upstream,
		"GONOSUMDB":   modulePath, // this version exists only in the file proxy
		"GOSUMDB":     sumdb,
		"GOPRIVATE":   "",
		"GONOPROXY":   "",
		"GOFLAGS":     "-mod=mod",
		"GOWORK":      "off",
		"GOTOOLCHAIN": "local",
		"GOCACHE":     env["GOCACHE"],
		"GOMODCACHE":  env["GOMODCACHE"],
	})

	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}

	start := time.Now()
	run(t, ctx, host, cmdEnv, goBin, "get", modulePath+"@"+version)
	t.Logf("go get: %v", time.Since(start).Round(time.Millisecond))

	hostMod, err := os.ReadFile(filepath.Join(host, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	hf, err := modfile.Parse("go.mod", hostMod, nil)
	if err != nil {
		t.Fatal(err)
	}
	required := false
	for _, r := range hf.Require {
		if r.Mod.Path == modulePath && r.Mod.Version == version {
			required = true
		}
	}
	if !required {
		t.Fatalf("after go get, the host's go.mod does not require %s %s:\n%s", modulePath, version, hostMod)
	}

	start = time.Now()
	bin := filepath.Join(t.TempDir(), "host")
	run(t, ctx, host, cmdEnv, goBin, "build", "-o", bin, ".")
	t.Logf("go build: %v", time.Since(start).Round(time.Millisecond))

	// The build may add requirements (-mod=mod), as a user's would: every
	// one must be a module podkit's go.mod already requires at that version,
	// or podkit's go.mod is incomplete.
	hostMod, err = os.ReadFile(filepath.Join(host, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if hf, err = modfile.Parse("go.mod", hostMod, nil); err != nil {
		t.Fatal(err)
	}
	podkitRequires := map[string]string{}
	for _, r := range mf.Require {
		podkitRequires[r.Mod.Path] = r.Mod.Version
	}
	for _, r := range hf.Require {
		if r.Mod.Path != modulePath && podkitRequires[r.Mod.Path] != r.Mod.Version {
			t.Errorf("building against podkit needed %s, which podkit's go.mod does not require (it has %q)",
				r.Mod, podkitRequires[r.Mod.Path])
		}
	}

	start = time.Now()
	runCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	out := run(t, runCtx, host, cmdEnv, bin)
	t.Logf("README.md's program: %v:\n%s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	if !strings.Contains(out, wantDeployment+"\n") || strings.Count(out, wantPodLine) != wantPods {
		t.Fatalf("README.md's program printed\n%s\nwant a line %q and %d pods %q", out, wantDeployment, wantPods, wantPodLine)
	}
}

// writeProxy lays out the working tree at root as one version of podkit in
// a GOPROXY directory (https://go.dev/ref/mod#goproxy-protocol) and returns
// the version. The version is a pseudo-version whose revision part is
// derived from the module's content.
func writeProxy(t *testing.T, proxy, root string, goMod []byte) string {
	t.Helper()
	// A first zip under a placeholder version identifies the content.
	probe := filepath.Join(t.TempDir(), "probe.zip")
	createZip(t, probe, "v0.0.0-20260101000000-000000000000", root)
	h1, err := dirhash.HashZip(probe, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(h1))
	version := "v0.0.0-20260101000000-" + hex.EncodeToString(sum[:6])

	escaped, err := module.EscapePath(modulePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "list"), version+"\n")
	writeFile(t, filepath.Join(dir, version+".info"), string(info))
	writeFile(t, filepath.Join(dir, version+".mod"), string(goMod))
	createZip(t, filepath.Join(dir, version+".zip"), version, root)
	return version
}

// createZip writes the module zip of the tree at root. CreateFromDir leaves
// out version-control directories, vendor directories and nested modules,
// and fails on what the go command would reject (sizes, names).
func createZip(t *testing.T, path, version, root string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = modzip.CreateFromDir(f, module.Version{Path: modulePath, Version: version}, root)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("packing %s as a module zip: %v", root, err)
	}
}

// removeFromModCache deletes what the go command extracted and downloaded
// for version. The module cache is read-only, hence the chmod.
func removeFromModCache(t *testing.T, modCache, version string) {
	escaped, err := module.EscapePath(modulePath)
	if err != nil || modCache == "" {
		return
	}
	escVersion, err := module.EscapeVersion(version)
	if err != nil {
		return
	}
	extracted := filepath.Join(modCache, filepath.FromSlash(escaped)+"@"+escVersion)
	_ = filepath.WalkDir(extracted, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	if err := os.RemoveAll(extracted); err != nil {
		t.Logf("leaving %s: %v", extracted, err)
	}
	download := filepath.Join(modCache, "cache", "download", filepath.FromSlash(escaped), "@v")
	for _, ext := range []string{".info", ".mod", ".zip", ".ziphash", ".lock", ".partial"} {
		if err := os.Remove(filepath.Join(download, escVersion+ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Logf("leaving %s: %v", escVersion+ext, err)
		}
	}
}

// goEnv returns the go command's settings this test builds on.
func goEnv(t *testing.T, goBin string) map[string]string {
	t.Helper()
	out, err := exec.Command(goBin, "env", "-json", "GOMOD", "GOPROXY", "GOSUMDB", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	env := map[string]string{}
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatalf("go env: %v", err)
	}
	return env
}

// withEnv returns base with the variables in set replaced.
func withEnv(base []string, set map[string]string) []string {
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// run runs name in dir and returns its standard output; on failure it stops
// the test with both outputs.
func run(t *testing.T, ctx context.Context, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v (context: %v)\nstdout:\n%s\nstderr:\n%s",
			filepath.Base(name), strings.Join(args, " "), err, ctx.Err(), stdout.String(), stderr.String())
	}
	return stdout.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
