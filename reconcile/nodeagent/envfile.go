package nodeagent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/objects"
)

// fileKeyValue resolves an env.valueFrom.fileKeyRef when the container
// starts (Kubernetes' EnvFiles): the key's value in the env file at the
// selector's path in its emptyDir volume. ok is false for an optional
// selector whose file or key is missing; a missing file or key otherwise,
// or a file that does not parse, is a *configError with the kubelet's
// words, so the container waits in CreateContainerConfigError and is
// tried again.
//
// The kubelet itself fails a missing file even when optional, and treats
// an empty value as a missing key; podkit follows the field's documented
// contract instead ("if the file or key does not exist, then the env var
// is not published"), so a key whose quoted value is empty is set, empty.
func fileKeyValue(ref *objects.FileKeySelector, vols map[string]volumes.Volume) (string, bool, error) {
	vol, ok := vols[ref.VolumeName]
	if !ok {
		return "", false, configErr("cannot find the volume %q referenced by FileKeyRef", ref.VolumeName)
	}
	rel := inVolume(ref.Path)
	file := filepath.Join(vol.Path, rel)
	v, found, err := readEnvFile(vol.Path, rel, ref.Key)
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist) && optional(ref.Optional):
		return "", false, nil
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the file is named once, below
		}
		return "", false, configErr("couldn't parse env file %q: %v", file, err)
	case !found && optional(ref.Optional):
		return "", false, nil
	case !found:
		return "", false, configErr("environment variable key %q not found in file %q", ref.Key, file)
	}
	return v, true, nil
}

// inVolume is p relative to its volume: validation refuses "..", and an
// absolute path is taken within the volume, as the kubelet's secure join
// takes it.
func inVolume(p string) string {
	return strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
}

// readEnvFile looks key up in the env file rel of dir. The file is opened
// through an os.Root: the pod wrote the volume, and a symbolic link in it
// must not make the agent read a file of the node.
func readEnvFile(dir, rel, key string) (string, bool, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", false, err
	}
	defer root.Close()
	if rel == "" {
		rel = "."
	}
	f, err := root.Open(rel)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	return lookupEnvFile(f, key)
}

// lookupEnvFile reads an env file as the kubelet does (its
// pkg/kubelet/util/env.ParseEnv) until the first assignment of key:
//
//	# a comment                 ignored, as are blank lines
//	  KEY='value'               leading blanks ignored
//	KEY='two                    a quoted value may span lines
//	lines' # a comment          a comment may follow the closing quote
//	KEY= 'x'                    a blank after '=' assigns "" (as sh does)
//
// A value must be in single quotes and is taken literally (no escapes,
// no expansion); a blank before '=', a line without '=', an unquoted
// value, text after the closing quote or an unclosed quote is an error,
// when met before the key is found. Lines end at "\n", a "\r" before it
// dropped, and are at most 64 KiB (bufio.MaxScanTokenSize).
func lookupEnvFile(r io.Reader, key string) (value string, found bool, err error) {
	sc := bufio.NewScanner(r)
	line := 0
	bad := func(format string, args ...any) (string, bool, error) {
		return "", false, fmt.Errorf("invalid environment variable format at line %d: "+format, append([]any{line}, args...)...)
	}
	for sc.Scan() {
		line++
		text := strings.TrimLeft(sc.Text(), " \t")
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, rest, ok := strings.Cut(text, "=")
		switch {
		case !ok:
			return bad("missing '='")
		case strings.TrimRight(name, " \t") == "":
			return bad("empty variable name")
		case strings.TrimRight(name, " \t") != name:
			return bad("whitespace before '=' is not allowed")
		case rest != strings.TrimLeft(rest, " \t"):
			if name == key {
				return "", true, nil
			}
			continue
		case !strings.HasPrefix(rest, "'"):
			return bad("value must be enclosed in single quotes")
		}
		var v strings.Builder
		rest, start := rest[1:], line
		for {
			q := strings.IndexByte(rest, '\'')
			if q >= 0 {
				v.WriteString(rest[:q])
				if after := strings.TrimLeft(rest[q+1:], " \t"); after != "" && !strings.HasPrefix(after, "#") {
					return bad("unexpected content after closing quote")
				}
				break
			}
			v.WriteString(rest)
			v.WriteByte('\n')
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return "", false, err
				}
				return "", false, fmt.Errorf("invalid environment variable format starting at line %d: unclosed single quote", start)
			}
			line++
			rest = sc.Text()
		}
		if name == key {
			return v.String(), true, nil
		}
	}
	return "", false, sc.Err()
}
