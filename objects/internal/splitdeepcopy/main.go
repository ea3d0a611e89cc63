// Command splitdeepcopy splits the deepcopy functions controller-gen writes
// into one zz_generated.deepcopy.go per package into one file per source
// file: the functions of the types declared in pod.go go to
// zz_generated.deepcopy_pod.go (and _pod_2.go past about 30 KB), and so
// on, so that no generated file grows past what a reader can take in. Run in the objects directory by go
// generate:
//
//	go run ./internal/splitdeepcopy -clean   # before controller-gen: remove the split files
//	go run ./internal/splitdeepcopy          # after it: split zz_generated.deepcopy.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const (
	generated = "zz_generated.deepcopy.go"
	prefix    = "zz_generated.deepcopy_"
	maxPart   = 30_000 // bytes of functions in one file, about 1,100 lines
)

func main() {
	clean := flag.Bool("clean", false, "remove the split files and stop")
	flag.Parse()
	if err := run(*clean); err != nil {
		fmt.Fprintln(os.Stderr, "splitdeepcopy:", err)
		os.Exit(1)
	}
}

func run(clean bool) error {
	old, err := filepath.Glob(prefix + "*.go")
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if clean {
		return nil
	}
	src, err := os.ReadFile(generated)
	if err != nil {
		return err
	}
	owners, err := typeFiles()
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, generated, src, parser.ParseComments)
	if err != nil {
		return err
	}
	header := src[:fset.Position(f.Name.End()).Offset]
	parts := map[string]*bytes.Buffer{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue // the empty import block
		}
		typ := receiver(fn)
		owner, ok := owners[typ]
		if !ok {
			return fmt.Errorf("%s: no source file declares the receiver type %q of %s", generated, typ, fn.Name.Name)
		}
		start := fn.Pos()
		if fn.Doc != nil {
			start = fn.Doc.Pos()
		}
		// A source file whose functions pass maxPart goes on in
		// NAME_2, NAME_3...
		for i := 2; parts[owner] != nil && parts[owner].Len() > maxPart; i++ {
			owner = fmt.Sprintf("%s_%d", owners[typ], i)
		}
		b := parts[owner]
		if b == nil {
			b = &bytes.Buffer{}
			parts[owner] = b
		}
		b.WriteString("\n")
		b.Write(src[fset.Position(start).Offset:fset.Position(fn.End()).Offset])
		b.WriteString("\n")
	}
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out, err := format.Source(append(append([]byte{}, header...), parts[n].Bytes()...))
		if err != nil {
			return fmt.Errorf("formatting the part of %s: %w", n, err)
		}
		if err := os.WriteFile(prefix+n+".go", out, 0o644); err != nil {
			return err
		}
	}
	return os.Remove(generated)
}

// receiver returns the name of fn's receiver type.
func receiver(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return ""
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// typeFiles maps each type declared in the package's hand-written files to
// its file's name without ".go".
func typeFiles() (map[string]string, error) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		return nil, err
	}
	owners := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasPrefix(name, "zz_generated") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				owners[s.(*ast.TypeSpec).Name.Name] = strings.TrimSuffix(name, ".go")
			}
		}
	}
	return owners, nil
}
