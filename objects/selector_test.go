package objects

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSelectorCanonical(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{"app=web", "app=web"},
		{"app==web", "app==web"},
		{"tier!=db,app=web", "app=web,tier!=db"},
		{"app=web,tier!=db,env in (a,b),!legacy", "app=web,env in (a,b),!legacy,tier!=db"},
		{"env in (b,a)", "env in (a,b)"},
		{"env notin (a, b)", "env notin (a,b)"},
		{"env in (a,a,b)", "env in (a,b)"},
		{"legacy", "legacy"},
		{"!legacy", "!legacy"},
		{" ! legacy ", "!legacy"},
		{"  app = web ,\ttier != db\n", "app=web,tier!=db"},
		{"x=", "x="},
		{"x= ,z= ", "x=,z="},
		{"x==", "x=="},
		{"x!=", "x!="},
		{"x in ()", "x in ()"},
		{"x in (,a)", "x in (,a)"},
		{"x in (a,)", "x in (,a)"},
		{"x in (a,,b)", "x in (,a,b)"},
		{"x notin (,)", "x notin ()"},
		{"x>1,y<5", "x>1,y<5"},
		{"in in (in)", "in in (in)"},
		{"notin notin (in,notin)", "notin notin (in,notin)"},
		{"in=notin", "in=notin"},
		{"example.com/app=web", "example.com/app=web"},
		{"x=a,x=b", "x=a,x=b"},
		{"b,a,c", "a,b,c"},
		{"k8s.io/a.b_c-d=A.b_C-9", "k8s.io/a.b_c-d=A.b_C-9"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			sel, err := ParseSelector(c.in)
			require.NoError(t, err)
			assert.Equal(t, c.want, sel.String())
			assert.Equal(t, c.want == "", sel.Empty())
			back, err := ParseSelector(sel.String())
			require.NoError(t, err)
			assert.Equal(t, c.want, back.String())
		})
	}
}

func TestParseSelectorErrors(t *testing.T) {
	cases := []struct {
		in   string
		want string
		pos  int
	}{
		{"x=a,", "found '', expected: identifier after ','", 4},
		{",x", "found ',', expected: !, identifier, or 'end of string'", 0},
		{"x,,y", "found ',', expected: identifier after ','", 2},
		{"x y", "found 'y', expected: in, notin, =, ==, !=, gt, lt", 2},
		{"x in a", "found 'a', expected: '('", 5},
		{"x in", "found '', expected: '('", 4},
		{"x in (a", "found '', expected: ',' or ')'", 7},
		{"x in (a b)", "found 'b', expected: ',' or ')'", 8},
		{"x in (a,(b))", "found '(', expected: ',', or identifier", 8},
		{"x in (=)", "found '=', expected: ',', ')' or identifier", 6},
		{"x=a b", "found 'b', expected: ',' or 'end of string'", 4},
		{"!x=a", "found '=', expected: ',' or 'end of string'", 2},
		{"x=a=b", "found '=', expected: ',' or 'end of string'", 3},
		{"x=(a)", "found '(', expected: identifier", 2},
		{"!", "found '', expected: identifier", 1},
		{"!!x", "found '!', expected: identifier", 1},
		{"=a", "found '=', expected: !, identifier, or 'end of string'", 0},
		{"x>a", "for 'Gt', 'Lt' operators, the value must be an integer", 0},
		{"x<", "for 'Gt', 'Lt' operators, the value must be an integer", 0},
		{"x>-1", `invalid label value "-1" for key "x"`, 0}, // values are label values first
		{"app=web,k@=v", `invalid label key "k@"`, 8},
		{"-app=web", `invalid label key "-app"`, 0},
		{"a/b/c=d", `invalid label key "a/b/c"`, 0},
		{strings.Repeat("k", 64) + "=v", "name part must be no more than 63 characters", 0},
		{"k=v@", `invalid label value "v@" for key "k"`, 0},
		{"k in (a,-b)", `invalid label value "-b" for key "k"`, 0},
		{"k=" + strings.Repeat("v", 64), "must be no more than 63 characters", 0},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			sel, err := ParseSelector(c.in)
			require.Error(t, err)
			assert.Nil(t, sel)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), "at position "+strconv.Itoa(c.pos)+":")
		})
	}
}

func TestSelectorMatches(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "fe", "env": "prod", "gen": "3", "empty": ""}
	cases := []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"app=web", true},
		{"app==web", true},
		{"app=db", false},
		{"app!=db", true},
		{"app!=web", false},
		{"missing!=x", true},
		{"missing=x", false},
		{"env in (prod,staging)", true},
		{"env in (staging)", false},
		{"missing in (a)", false},
		{"env notin (prod)", false},
		{"env notin (dev)", true},
		{"missing notin (a)", true},
		{"app", true},
		{"missing", false},
		{"!missing", true},
		{"!app", false},
		{"empty=", true},
		{"empty", true},
		{"empty in ()", true},
		{"app=", false},
		{"missing=", false},
		{"gen>2", true},
		{"gen>3", false},
		{"gen<4", true},
		{"gen<3", false},
		{"app>1", false}, // not an integer label
		{"missing<1", false},
		{"app=web,tier!=db,env in (prod,staging),!legacy", true},
		{"app=web,tier!=fe", false},
		{"x=a,x=b", false},
	}
	for _, c := range cases {
		sel, err := ParseSelector(c.sel)
		require.NoError(t, err, c.sel)
		assert.Equal(t, c.want, sel.Matches(labels), "%q", c.sel)
	}
	everything, err := ParseSelector("")
	require.NoError(t, err)
	assert.True(t, everything.Matches(nil))
}

func TestRequiresExactMatch(t *testing.T) {
	cases := []struct {
		sel, key, want string
		ok             bool
	}{
		{"app=web", "app", "web", true},
		{"app==web", "app", "web", true},
		{"app in (web)", "app", "web", true},
		{"tier=fe,app in (web)", "app", "web", true},
		{"app in (a,b)", "app", "", false},
		{"app!=web", "app", "", false},
		{"app notin (web)", "app", "", false},
		{"app", "app", "", false},
		{"tier=fe", "app", "", false},
		{"app=", "app", "", true},
		{"", "app", "", false},
	}
	for _, c := range cases {
		sel, err := ParseSelector(c.sel)
		require.NoError(t, err)
		v, ok := sel.RequiresExactMatch(c.key)
		assert.Equal(t, c.ok, ok, "%q %q", c.sel, c.key)
		assert.Equal(t, c.want, v, "%q %q", c.sel, c.key)
	}
	v, ok := SelectorFromSet(map[string]string{"app": "web", "tier": "fe"}).RequiresExactMatch("tier")
	assert.True(t, ok)
	assert.Equal(t, "fe", v)
}

func TestEverythingNothingFromSet(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "fe"}
	assert.True(t, Everything().Matches(labels))
	assert.True(t, Everything().Matches(nil))
	assert.True(t, Everything().Empty())
	assert.Equal(t, "", Everything().String())

	assert.False(t, Nothing().Matches(labels))
	assert.False(t, Nothing().Matches(nil))
	assert.False(t, Nothing().Empty())
	assert.Equal(t, "", Nothing().String())
	_, ok := Nothing().RequiresExactMatch("app")
	assert.False(t, ok)

	sel := SelectorFromSet(map[string]string{"tier": "fe", "app": "web"})
	assert.Equal(t, "app=web,tier=fe", sel.String())
	assert.True(t, sel.Matches(labels))
	assert.False(t, sel.Matches(map[string]string{"app": "web"}))
	assert.True(t, SelectorFromSet(nil).Empty())
	assert.True(t, SelectorFromSet(map[string]string{}).Matches(nil))
}

func TestLabelSelectorAsSelector(t *testing.T) {
	sel, err := LabelSelectorAsSelector(nil)
	require.NoError(t, err)
	assert.False(t, sel.Matches(map[string]string{}), "a nil selector selects nothing")
	assert.False(t, sel.Empty())

	var nilLS *LabelSelector
	sel, err = nilLS.AsSelector()
	require.NoError(t, err)
	assert.False(t, sel.Matches(nil))

	sel, err = (&LabelSelector{}).AsSelector()
	require.NoError(t, err)
	assert.True(t, sel.Empty(), "an empty selector selects everything")
	assert.True(t, sel.Matches(map[string]string{"a": "b"}))

	ls := &LabelSelector{
		MatchLabels: map[string]string{"tier": "fe", "app": "web"},
		MatchExpressions: []LabelSelectorRequirement{
			{Key: "env", Operator: LabelSelectorOpIn, Values: []string{"staging", "prod"}},
			{Key: "legacy", Operator: LabelSelectorOpDoesNotExist},
			{Key: "release", Operator: LabelSelectorOpNotIn, Values: []string{"canary"}},
			{Key: "team", Operator: LabelSelectorOpExists},
		},
	}
	sel, err = ls.AsSelector()
	require.NoError(t, err)
	assert.Equal(t, "app=web,env in (prod,staging),!legacy,release notin (canary),team,tier=fe", sel.String())
	assert.Equal(t, []string{"staging", "prod"}, ls.MatchExpressions[0].Values, "the input is not reordered")
	assert.True(t, sel.Matches(map[string]string{"app": "web", "tier": "fe", "env": "prod", "team": "a"}))
	assert.False(t, sel.Matches(map[string]string{"app": "web", "tier": "fe", "env": "prod", "team": "a", "legacy": "1"}))
	assert.False(t, sel.Matches(map[string]string{"app": "web", "tier": "fe", "env": "prod", "team": "a", "release": "canary"}))
	assert.False(t, sel.Matches(map[string]string{"app": "web", "tier": "fe", "env": "prod"}))
	v, ok := sel.RequiresExactMatch("app")
	assert.True(t, ok)
	assert.Equal(t, "web", v)

	parsed, err := ParseSelector(sel.String())
	require.NoError(t, err)
	assert.Equal(t, sel.String(), parsed.String())

	bad := []struct {
		ls   LabelSelector
		want string
	}{
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "a", Operator: "Equals", Values: []string{"b"}}}},
			`"Equals" is not a valid label selector operator`},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "a", Operator: LabelSelectorOpIn}}},
			"values set can't be empty"},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "a", Operator: LabelSelectorOpExists, Values: []string{"b"}}}},
			"values set must be empty for exists and does not exist"},
		{LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "a b", Operator: LabelSelectorOpExists}}},
			`invalid label key "a b"`},
		{LabelSelector{MatchLabels: map[string]string{"app": "-web"}}, `invalid label value "-web" for key "app"`},
	}
	for _, c := range bad {
		_, err := LabelSelectorAsSelector(&c.ls)
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
	}
}

func TestValidateLabelSelector(t *testing.T) {
	p := NewPath("spec", "selector")
	cases := []struct {
		name string
		ls   *LabelSelector
		want []string
	}{
		{"nil", nil, nil},
		{"empty", &LabelSelector{}, nil},
		{"valid", &LabelSelector{
			MatchLabels: map[string]string{"app": "web", "example.com/tier": ""},
			MatchExpressions: []LabelSelectorRequirement{
				{Key: "env", Operator: LabelSelectorOpIn, Values: []string{"prod"}},
				{Key: "legacy", Operator: LabelSelectorOpDoesNotExist},
			},
		}, nil},
		{"in without values", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
			{Key: "env", Operator: LabelSelectorOpIn}}},
			[]string{"spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"}},
		{"notin without values", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
			{Key: "env", Operator: LabelSelectorOpExists}, {Key: "env", Operator: LabelSelectorOpNotIn, Values: []string{}}}},
			[]string{"spec.selector.matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"}},
		{"exists with values", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
			{Key: "env", Operator: LabelSelectorOpExists, Values: []string{"x"}}}},
			[]string{"spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"}},
		{"bad operator", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
			{Key: "env", Operator: "Equals", Values: []string{"x"}}}},
			[]string{`spec.selector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator`}},
		{"bad key and value", &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
			{Key: "bad key", Operator: LabelSelectorOpIn, Values: []string{"ok", "-x"}}}},
			[]string{
				`spec.selector.matchExpressions[0].key: Invalid value: "bad key": name part must consist of alphanumeric characters`,
				`spec.selector.matchExpressions[0].values[1]: Invalid value: "-x": a valid label must be an empty string or consist of alphanumeric characters`,
			}},
		{"bad match labels", &LabelSelector{MatchLabels: map[string]string{"a/b/c": "ok"}},
			[]string{`spec.selector.matchLabels: Invalid value: "a/b/c": a qualified name must consist of`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := ValidateLabelSelector(c.ls, p)
			require.Len(t, errs, len(c.want), "%v", errs)
			for i, w := range c.want {
				assert.True(t, strings.HasPrefix(errs[i].Error(), w), "got %q, want prefix %q", errs[i].Error(), w)
			}
		})
	}
}

func TestSelectorMatchesDoesNotAllocate(t *testing.T) {
	sel, err := ParseSelector("app=web,tier in (fe,be),!legacy,env notin (dev)")
	require.NoError(t, err)
	labels := map[string]string{"app": "web", "tier": "fe", "env": "prod", "pod-template-hash": "7c9f"}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if !sel.Matches(labels) {
			panic("no match")
		}
	}))
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		"", "app=web", "app==web", "tier!=db", "env in (a,b)", "env notin (a,b)", "legacy", "!legacy",
		"app=web,tier!=db,env in (a,b),!legacy", " x in ( a , b ) , y ", "x=", "x in ()", "x in (,a,)",
		"x>1,y<-2", "in in (in)", "notin notin (notin)", "example.com/app=web", "x=a,x=b",
		"x=a,", ",", "x y", "!x=a", "x in (a", "k@=v", "x>a", "a/b/c", "=", "!=", "((", "x==y==z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			if sel != nil {
				t.Fatalf("ParseSelector(%q) returned a selector and an error", s)
			}
			return
		}
		canon := sel.String()
		back, err := ParseSelector(canon)
		if err != nil {
			t.Fatalf("ParseSelector(%q) = %q, which does not parse: %v", s, canon, err)
		}
		if again := back.String(); again != canon {
			t.Fatalf("ParseSelector(%q) = %q, which prints as %q", s, canon, again)
		}
		if sel.Empty() != back.Empty() || sel.Empty() != (canon == "") {
			t.Fatalf("ParseSelector(%q) = %q: Empty %v, re-parsed Empty %v", s, canon, sel.Empty(), back.Empty())
		}
		// Equivalent on label sets built from the selector's own keys and
		// values, which are the ones that can change its verdict.
		reqs := sel.(labelSelector)
		sets := []map[string]string{nil, {}}
		all := map[string]string{}
		for _, r := range reqs {
			for _, v := range append(append([]string{}, r.values...), "zz-other", "0", "7") {
				sets = append(sets, map[string]string{r.key: v})
				all[r.key] = v
			}
			v1, ok1 := sel.RequiresExactMatch(r.key)
			v2, ok2 := back.RequiresExactMatch(r.key)
			if v1 != v2 || ok1 != ok2 {
				t.Fatalf("%q and %q disagree on RequiresExactMatch(%q)", s, canon, r.key)
			}
		}
		sets = append(sets, all)
		for _, l := range sets {
			if sel.Matches(l) != back.Matches(l) {
				t.Fatalf("%q and %q disagree on %v", s, canon, l)
			}
		}
	})
}

var benchSelectorSink bool

func BenchmarkSelectorMatches(b *testing.B) {
	labels := map[string]string{"app": "web", "tier": "fe", "env": "prod", "pod-template-hash": "7c9f"}
	for _, s := range []string{"app=web", "app=web,tier in (fe,be),!legacy,env notin (dev)"} {
		sel, err := ParseSelector(s)
		require.NoError(b, err)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchSelectorSink = sel.Matches(labels)
			}
		})
	}
}

func BenchmarkParseSelector(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sel, err := ParseSelector("app=web,tier in (fe,be),!legacy,env notin (dev)")
		if err != nil {
			b.Fatal(err)
		}
		benchSelectorSink = sel.Empty()
	}
}

func ExampleParseSelector() {
	sel, err := ParseSelector("tier!=db, app=web, env in (staging,prod), !legacy")
	if err != nil {
		panic(err)
	}
	fmt.Println(sel)
	fmt.Println(sel.Matches(map[string]string{"app": "web", "env": "prod"}))
	fmt.Println(sel.Matches(map[string]string{"app": "web", "env": "prod", "legacy": "true"}))
	// Output:
	// app=web,env in (prod,staging),!legacy,tier!=db
	// true
	// false
}

func ExampleLabelSelectorAsSelector() {
	ls := &LabelSelector{
		MatchLabels:      map[string]string{"app": "web"},
		MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: LabelSelectorOpNotIn, Values: []string{"db"}}},
	}
	sel, err := LabelSelectorAsSelector(ls)
	if err != nil {
		panic(err)
	}
	fmt.Println(sel, sel.Matches(map[string]string{"app": "web", "tier": "fe"}))
	// Output: app=web,tier notin (db) true
}
