package objects

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	strictjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ManifestError reports a document of a manifest stream that could not be
// decoded: which document (counting from 1), which object, and why.
//
// +kubebuilder:object:generate=false
type ManifestError struct {
	Document int
	Kind     string
	Name     string
	Err      error
}

// Error names the document and object first, then the problem:
// `document 2 (Deployment "web"): unknown field "spec.replicaz"`.
func (e *ManifestError) Error() string {
	var who string
	switch {
	case e.Kind != "" && e.Name != "":
		who = fmt.Sprintf(" (%s %q)", e.Kind, e.Name)
	case e.Kind != "":
		who = " (" + e.Kind + ")"
	}
	return fmt.Sprintf("document %d%s: %v", e.Document, who, e.Err)
}

func (e *ManifestError) Unwrap() error { return e.Err }

// DecodeYAML decodes a stream of Kubernetes manifests with the built-in kinds.
// It is NewScheme().Decode(r); use Scheme.Decode when the stream holds kinds a
// host registered.
func DecodeYAML(r io.Reader) ([]Object, error) { return NewScheme().Decode(r) }

// Decode reads a multi-document YAML stream ("---" separated), a stream of
// JSON objects, a JSON array, or a v1 List, and returns one object per
// document, dispatched on apiVersion and kind. Decoding is strict: an unknown
// or misspelt field, a duplicate field, a wrong type or an unsupported kind
// fails the whole stream with a *ManifestError naming the document, the
// object and the field path. Empty documents are skipped. An older version
// Kubernetes still serves, autoscaling/v1 HorizontalPodAutoscaler, is
// converted to the one stored, as the API server converts it.
func (s *Scheme) Decode(r io.Reader) ([]Object, error) {
	docs, err := splitDocuments(r)
	if err != nil {
		return nil, err
	}
	var out []Object
	for i, doc := range docs {
		objs, err := s.decodeDocument(doc, i+1)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// DecodeBytes is Decode over a byte slice.
func (s *Scheme) DecodeBytes(b []byte) ([]Object, error) { return s.Decode(bytes.NewReader(b)) }

// splitDocuments returns each document of the stream as JSON.
func splitDocuments(r io.Reader) ([][]byte, error) {
	br := bufio.NewReader(r)
	if isJSONStream(br) {
		return splitJSON(br)
	}
	var docs [][]byte
	var cur bytes.Buffer
	opened := false // a separator was read
	flush := func() error {
		n := len(docs) + 1
		y := cur.Bytes()
		cur.Reset()
		if isBlankYAML(y) {
			docs = append(docs, nil) // keep numbering as a reader counts documents
			return nil
		}
		j, err := yaml.YAMLToJSONStrict(y)
		if err != nil {
			return &ManifestError{Document: n, Err: fmt.Errorf("invalid YAML: %w", err)}
		}
		docs = append(docs, j)
		return nil
	}
	for {
		line, err := br.ReadBytes('\n')
		if sep, bad := separator(line); sep || bad != "" {
			if len(docs) == 0 && !opened && isBlankYAML(cur.Bytes()) {
				cur.Reset() // the blank start of a stream, before its first "---", is no document
			} else if ferr := flush(); ferr != nil {
				return nil, ferr
			}
			opened = true
			if bad != "" {
				return nil, &ManifestError{Document: len(docs) + 1, Err: fmt.Errorf("invalid YAML document separator: %s", bad)}
			}
		} else {
			cur.Write(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// separator tells whether a line separates two documents: "---" at its
// start, then nothing but spaces or a comment. Anything else after "---" is
// refused (bad), as Kubernetes' YAML reader refuses it: a YAML parser would
// take it for the start of a document in the same chunk, and silently
// drop all that follows.
func separator(line []byte) (sep bool, bad string) {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false, ""
	}
	rest = bytes.TrimSpace(rest)
	if len(rest) > 0 && rest[0] != '#' {
		return false, string(rest)
	}
	return true, ""
}

func isBlankYAML(y []byte) bool {
	for _, l := range strings.Split(string(y), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func isJSONStream(br *bufio.Reader) bool {
	for i := 1; ; i++ {
		b, err := br.Peek(i)
		if err != nil || len(b) < i {
			return false
		}
		c := b[i-1]
		if unicode.IsSpace(rune(c)) {
			continue
		}
		return c == '{' || c == '['
	}
}

func splitJSON(r io.Reader) ([][]byte, error) {
	dec := json.NewDecoder(r)
	var docs [][]byte
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, &ManifestError{Document: len(docs) + 1, Err: fmt.Errorf("invalid JSON: %w", err)}
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(t, &items); err != nil {
				return nil, &ManifestError{Document: len(docs) + 1, Err: fmt.Errorf("invalid JSON: %w", err)}
			}
			for _, it := range items {
				docs = append(docs, it)
			}
			continue
		}
		docs = append(docs, raw)
	}
}

type manifestHead struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name         string `json:"name"`
		GenerateName string `json:"generateName"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

func (s *Scheme) decodeDocument(doc []byte, n int) ([]Object, error) {
	if len(doc) == 0 || string(doc) == "null" {
		return nil, nil
	}
	var head manifestHead
	if err := json.Unmarshal(doc, &head); err != nil {
		return nil, &ManifestError{Document: n, Err: fmt.Errorf("a manifest must be an object with apiVersion and kind: %w", err)}
	}
	name := head.Metadata.Name
	if name == "" {
		name = head.Metadata.GenerateName
	}
	fail := func(err error) error { return &ManifestError{Document: n, Kind: head.Kind, Name: name, Err: err} }
	switch {
	case head.Kind == "":
		return nil, fail(errors.New("kind: Required value"))
	case head.APIVersion == "":
		return nil, fail(errors.New("apiVersion: Required value"))
	case head.APIVersion == "v1" && head.Kind == "List":
		var out []Object
		for i, item := range head.Items {
			objs, err := s.decodeDocument(item, n)
			if err != nil {
				var me *ManifestError
				if errors.As(err, &me) {
					me.Err = fmt.Errorf("items[%d]: %w", i, me.Err)
				}
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	info := s.LookupGVK(head.APIVersion, head.Kind)
	if info == nil {
		if c, ok := olderVersions[GroupVersionKind{APIVersion: head.APIVersion, Kind: head.Kind}]; ok && s.LookupGVK(c.to.APIVersion, c.to.Kind) != nil {
			obj, err := c.decode(doc)
			if err != nil {
				return nil, fail(err)
			}
			return []Object{obj}, nil
		}
		if k := s.Lookup(head.Kind); k != nil {
			return nil, fail(fmt.Errorf("apiVersion: Unsupported value: %q: %s is supported as %q", head.APIVersion, head.Kind, k.APIVersion))
		}
		return nil, fail(fmt.Errorf("unsupported kind %q (apiVersion %q)", head.Kind, head.APIVersion))
	}
	obj := info.New()
	if err := strictDecode(doc, obj); err != nil {
		return nil, fail(err)
	}
	return []Object{obj}, nil
}

// olderVersions are versions of built-in kinds that Kubernetes still
// serves and manifests still use, decoded by conversion to the version
// podkit stores.
var olderVersions = map[GroupVersionKind]struct {
	to     GroupVersionKind
	decode func(doc []byte) (Object, error)
}{
	{APIVersion: "autoscaling/v1", Kind: "HorizontalPodAutoscaler"}: {
		to:     GroupVersionKind{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		decode: decodeHPAv1,
	},
}

// UnmarshalStrict decodes one object's JSON into obj as Decode decodes a
// manifest: unknown and duplicate fields are refused, each named
// (`unknown field "spec.replicaz"`), and a value of the wrong type is named
// by its path (`spec.containers[1].env[0].value: Invalid value: a JSON
// number where string is expected`). Nothing is defaulted or validated.
func UnmarshalStrict(data []byte, obj Object) error { return strictDecode(data, obj) }

// strictDecode decodes doc into obj, refusing unknown and duplicate
// fields with every one named.
func strictDecode(doc []byte, obj any) error {
	strict, err := strictjson.UnmarshalStrict(doc, obj)
	if err != nil {
		return cleanJSONError(doc, err)
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return errors.New(strings.Join(msgs, ", "))
	}
	return nil
}

// cleanJSONError drops the Go type names encoding/json puts in type errors,
// keeping the field path, completed with list indices and map keys as
// Kubernetes writes them (spec.containers[1].env[0].value, data[port]), and
// the expected JSON type.
func cleanJSONError(doc []byte, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		path := valuePath(doc, te.Offset, te.Field)
		if path == "" {
			path = te.Field
		}
		return fmt.Errorf("%s: Invalid value: a JSON %s where %s is expected", path, te.Value, jsonTypeName(te.Type.Kind().String()))
	}
	return err
}

// valuePath returns the path of the value of doc that a type error at
// offset is about: the first value to end at or after offset, or the
// object or list opened there. fields is the error's path of struct fields
// (encoding/json's, without indices or map keys): a key that is not the
// next of them is a map key. It returns "" when the walk does not account
// for every field.
func valuePath(doc []byte, offset int64, fields string) string {
	type frame struct {
		list    bool
		index   int
		key     string
		wantKey bool
	}
	var stack []frame
	done := func() { // a value ended: its object wants the next key
		if n := len(stack); n > 0 && !stack[n-1].list {
			stack[n-1].wantKey = true
		}
	}
	render := func() string {
		segs := strings.Split(fields, ".")
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.list:
				fmt.Fprintf(&b, "[%d]", f.index)
			case len(segs) > 0 && segs[0] == f.key:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
				segs = segs[1:]
			default:
				b.WriteString("[" + f.key + "]")
			}
		}
		if len(segs) > 0 {
			return ""
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		d, delim := tok.(json.Delim)
		if delim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			done()
			continue
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			if !top.list && top.wantKey {
				top.key, top.wantKey = tok.(string), false
				continue
			}
			if top.list {
				top.index++
			}
		}
		if dec.InputOffset() >= offset {
			return render()
		}
		if delim {
			stack = append(stack, frame{list: d == '[', index: -1, wantKey: d == '{'})
			continue
		}
		done()
	}
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "a list"
	case "map", "struct":
		return "an object"
	}
	return "a " + goKind
}

// EncodeYAML writes objs as a multi-document YAML stream, with apiVersion and
// kind filled in from the scheme.
func (s *Scheme) EncodeYAML(w io.Writer, objs ...Object) error {
	for i, obj := range objs {
		c := obj.DeepCopyObject()
		if _, err := s.SetTypeMeta(c); err != nil {
			return err
		}
		b, err := yaml.Marshal(c)
		if err != nil {
			return fmt.Errorf("encode %s %q: %w", c.GetTypeMeta().Kind, c.GetObjectMeta().Name, err)
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// EncodeYAML writes objects of the built-in kinds as a YAML stream.
func EncodeYAML(w io.Writer, objs ...Object) error { return NewScheme().EncodeYAML(w, objs...) }
