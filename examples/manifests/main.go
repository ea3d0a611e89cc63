// Command manifests applies ordinary Kubernetes YAML to an embedded podkit
// orchestrator and lists what was stored.
//
//	go run ./examples/manifests [DIR]
//
// Without DIR it applies the manifests next to this file. It exits non-zero,
// naming the document and field, if any manifest is rejected; in that case
// nothing is stored.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

//go:embed *.yaml
var builtin embed.FS

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [DIR]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "manifests:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var fsys fs.FS = builtin
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	objs, err := readManifests(fsys)
	if err != nil {
		return err
	}

	o, err := podkit.New()
	if err != nil {
		return err
	}
	defer o.Close()
	if err := o.Apply(ctx, objs...); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	fmt.Printf("applied %d objects\n\n", len(objs))
	return printStored(ctx, o)
}

// readManifests decodes every .yaml, .yml and .json file of fsys, in name order.
func readManifests(fsys fs.FS) ([]objects.Object, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("no .yaml, .yml or .json files found")
	}
	scheme := objects.NewScheme()
	var all []objects.Object
	for _, name := range files {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		objs, err := scheme.Decode(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		all = append(all, objs...)
	}
	return all, nil
}

func printStored(ctx context.Context, o *podkit.Orchestrator) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAMESPACE\tNAME\tGENERATION\tAGE")
	kinds := o.Scheme().Kinds()
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].Kind < kinds[j].Kind })
	for _, k := range kinds {
		objs, err := o.List(ctx, k.Kind)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			m := obj.GetObjectMeta()
			ns := m.Namespace
			if ns == "" {
				ns = "-"
			}
			age := o.Clock().Since(m.CreationTimestamp.Time).Round(time.Second)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", k.Kind, ns, m.Name, m.Generation, age)
		}
	}
	return tw.Flush()
}
