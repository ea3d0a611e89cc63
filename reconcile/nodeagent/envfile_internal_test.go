package nodeagent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/objects"
)

// The rules of the kubelet's env file parser, as its tests state them.
func TestLookupEnvFile(t *testing.T) {
	cases := []struct {
		name, file, key string
		want            string
		found           bool
		err             string // a substring of the error
	}{
		{name: "leading blanks", file: "   A='1'\n\t\tB='2'\nC='3'\n", key: "B", want: "2", found: true},
		{name: "comments and blank lines", file: "# c\n\nA='foo'\n   # c\n  \nB='bar'\n", key: "B", want: "bar", found: true},
		{name: "missing key", file: "A='foo'\n", key: "B"},
		{name: "empty value", file: "A=''\n", key: "A", want: "", found: true},
		{name: "blank after = assigns empty", file: "A= 'x'\n", key: "A", want: "", found: true},
		{name: "blank after = skips the line", file: "A= 'x' junk\nB='b'\n", key: "B", want: "b", found: true},
		{name: "literal value", file: `A='$HOME ${X} \n "q" #x =y'` + "\n", key: "A", want: `$HOME ${X} \n "q" #x =y`, found: true},
		{name: "blanks kept in quotes", file: "A='  foo bar  '\n", key: "A", want: "  foo bar  ", found: true},
		{name: "comment after value", file: "A='foo'   # c\n", key: "A", want: "foo", found: true},
		{name: "multi-line value", file: "A='one\n  two\n'\nB='b'\n", key: "A", want: "one\n  two\n", found: true},
		{name: "multi-line value skipped", file: "A='one\nB=two'\nB='b'\n", key: "B", want: "b", found: true},
		{name: "first assignment wins", file: "A='1'\nA='2'\n", key: "A", want: "1", found: true},
		{name: "CRLF lines", file: "A='1'\r\nB='2'\r\n", key: "B", want: "2", found: true},
		{name: "no final newline", file: "A='1'", key: "A", want: "1", found: true},
		{name: "errors after the key are not seen", file: "A='1'\nnonsense\n", key: "A", want: "1", found: true},
		{name: "blank before =", file: "A ='1'\n", key: "A", err: "at line 1: whitespace before '=' is not allowed"},
		{name: "missing =", file: "A='1'\nJUNK\nB='2'\n", key: "B", err: "at line 2: missing '='"},
		{name: "empty name", file: "='1'\n", key: "A", err: "at line 1: empty variable name"},
		{name: "unquoted", file: "A=1\n", key: "A", err: "at line 1: value must be enclosed in single quotes"},
		{name: "double quoted", file: `A="1"` + "\n", key: "A", err: "value must be enclosed in single quotes"},
		{name: "empty unquoted", file: "A=\n", key: "A", err: "value must be enclosed in single quotes"},
		{name: "adjacent quotes", file: "A='a''b'\n", key: "A", err: "at line 1: unexpected content after closing quote"},
		{name: "escaped quote", file: `A='it\'s'` + "\n", key: "A", err: "unexpected content after closing quote"},
		{name: "unclosed", file: "B='b'\nA='open\nstill\n", key: "A", err: "starting at line 2: unclosed single quote"},
		{name: "line numbers count value lines", file: "A='x\ny'\nB\n", key: "C", err: "at line 3: missing '='"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, found, err := lookupEnvFile(strings.NewReader(tc.file), tc.key)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || v != tc.want || found != tc.found {
				t.Fatalf("= %q, %v, %v; want %q, %v", v, found, err, tc.want, tc.found)
			}
		})
	}
}

func TestFileKeyValue(t *testing.T) {
	dir := t.TempDir()
	vol := filepath.Join(dir, "config")
	if err := os.MkdirAll(filepath.Join(vol, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(vol, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sub/app.env", "HOST='db'\n")
	write("bad.env", "HOST=db\n")
	secret := filepath.Join(dir, "node-secret.env")
	if err := os.WriteFile(secret, []byte("HOST='node'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(vol, "link.env")); err != nil {
		t.Fatal(err)
	}
	vols := map[string]volumes.Volume{"config": {Path: vol}}
	yes := true
	sel := func(volume, path, key string, opt bool) *objects.FileKeySelector {
		s := &objects.FileKeySelector{VolumeName: volume, Path: path, Key: key}
		if opt {
			s.Optional = &yes
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		sel   *objects.FileKeySelector
		want  string
		ok    bool
		error string
	}{
		{"found", sel("config", "sub/app.env", "HOST", false), "db", true, ""},
		{"absolute path is within the volume", sel("config", "/sub/./app.env", "HOST", false), "db", true, ""},
		{"missing key", sel("config", "sub/app.env", "PORT", false), "", false,
			`environment variable key "PORT" not found in file "` + filepath.Join(vol, "sub/app.env") + `"`},
		{"missing key, optional", sel("config", "sub/app.env", "PORT", true), "", false, ""},
		{"missing file", sel("config", "none/app.env", "HOST", false), "", false,
			`couldn't parse env file "` + filepath.Join(vol, "none/app.env") + `": no such file or directory`},
		{"missing file, optional", sel("config", "none/app.env", "HOST", true), "", false, ""},
		{"bad file, optional", sel("config", "bad.env", "HOST", true), "", false,
			`couldn't parse env file "` + filepath.Join(vol, "bad.env") + `": invalid environment variable format at line 1: value must be enclosed in single quotes`},
		{"link out of the volume", sel("config", "link.env", "HOST", true), "", false, `couldn't parse env file "` + filepath.Join(vol, "link.env") + `": `},
		{"unknown volume", sel("other", "app.env", "HOST", true), "", false, `cannot find the volume "other" referenced by FileKeyRef`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ok, err := fileKeyValue(tc.sel, vols)
			if tc.error != "" {
				var ce *configError
				if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.error) {
					t.Fatalf("error %v, want a *configError starting %q", err, tc.error)
				}
				return
			}
			if err != nil || v != tc.want || ok != tc.ok {
				t.Fatalf("= %q, %v, %v; want %q, %v", v, ok, err, tc.want, tc.ok)
			}
		})
	}
}

// The parser never panics, and a value it reads back is what was written.
func FuzzLookupEnvFile(f *testing.F) {
	f.Add("A='1'\n# c\nB='x\ny' # c\n", "B")
	f.Add("A= 'x'\r\nB=''", "A")
	f.Add("='", "")
	f.Fuzz(func(t *testing.T, file, key string) {
		v, found, err := lookupEnvFile(strings.NewReader(file), key)
		if err != nil && found {
			t.Fatalf("found %q with error %v", v, err)
		}
		if key == "" || strings.ContainsAny(key, "=# \t\r\n'") || strings.ContainsAny(v, "'\r") || strings.Contains(v, "\n") {
			return
		}
		got, found, err := lookupEnvFile(strings.NewReader(key+"='"+v+"'\n"+file), key)
		if err != nil || !found || got != v {
			t.Fatalf("wrote %s=%q, read %q, %v, %v", key, v, got, found, err)
		}
	})
}
