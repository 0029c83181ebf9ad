package scenarios

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// decoder walks the YAML syntax tree itself instead of using yaml.Unmarshal, because the
// library's decoder stops at the first problem and loses positions of semantic errors; here
// every unknown key, wrong type and bad value is collected with its line and column.
// MaxCaughtUpWithin is the longest data.caught_up_within a scenario may ask: the lab waits that
// long for analytics after the load (runner.Options.Settle's default).
const MaxCaughtUpWithin = 30 * time.Second

type decoder struct {
	file string
	errs *Errors
}

func (d *decoder) errorf(n ast.Node, format string, args ...any) {
	d.errs.add(d.file, posOf(n), format, args...)
}

func posOf(n ast.Node) Pos {
	if n == nil {
		return Pos{}
	}
	// A block mapping's token is the first ':'; point at its first key instead.
	switch m := n.(type) {
	case *ast.MappingNode:
		if !m.IsFlowStyle && len(m.Values) > 0 && m.Values[0].Key != nil {
			return posOf(m.Values[0].Key)
		}
	case *ast.MappingValueNode:
		if m.Key != nil {
			return posOf(m.Key)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{}
	}
	return Pos{Line: tk.Position.Line, Col: tk.Position.Column}
}

// parseDocument returns the body of the single YAML document in data.
func (d *decoder) parseDocument(data []byte) ast.Node {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			p := Pos{}
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				p = Pos{tk.Position.Line, tk.Position.Column}
			}
			d.errs.add(d.file, p, "invalid YAML: %s", ye.GetMessage())
		} else {
			d.errs.add(d.file, Pos{}, "invalid YAML: %v", err)
		}
		return nil
	}
	var bodies []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil && doc.Body.Type() != ast.CommentType && doc.Body.Type() != ast.CommentGroupType {
			bodies = append(bodies, doc.Body)
		}
	}
	switch len(bodies) {
	case 0:
		d.errs.add(d.file, Pos{1, 1}, "expected a mapping with at least name, duration and load; the file is empty")
		return nil
	case 1:
		return bodies[0]
	}
	d.errorf(bodies[1], "expected one YAML document, found %d", len(bodies))
	return nil
}

// value strips what the format does not allow around a value. Anchors are harmless and kept;
// aliases, merge keys and tags are refused: aliases allow exponential expansion and all three
// hide what a scenario really says.
func (d *decoder) value(path string, n ast.Node) ast.Node {
	for n != nil {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			d.errorf(n, "%s: expected a value, aliases (*name) are not supported", path)
			return nil
		case *ast.TagNode:
			d.errorf(n, "%s: expected a plain value, tags (!tag) are not supported", path)
			return nil
		default:
			return n
		}
	}
	return nil
}

// entry is one key: value of a mapping.
type entry struct {
	key   string
	keyN  ast.Node
	value ast.Node
}

// mapping returns a mapping's entries, reporting duplicate and non-string keys.
func (d *decoder) mapping(path, what string, n ast.Node) ([]entry, bool) {
	n = d.value(path, n)
	if n == nil {
		return nil, false
	}
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		d.errorf(n, "%s: expected %s (a mapping), got %s", path, what, describe(n))
		return nil, false
	}
	seen := map[string]bool{}
	out := make([]entry, 0, len(values))
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			d.errorf(mv.Key, "%s: expected a key, merge keys (<<) are not supported", path)
			continue
		}
		key, ok := scalarText(mv.Key)
		if !ok || mv.Key.Type() != ast.StringType {
			d.errorf(mv.Key, "%s: expected a string key, got %s", path, describe(mv.Key))
			continue
		}
		if seen[key] {
			d.errorf(mv.Key, "%s: duplicate key %q", path, key)
			continue
		}
		seen[key] = true
		out = append(out, entry{key: key, keyN: mv.Key, value: mv.Value})
	}
	return out, true
}

// fields dispatches a mapping's keys to handlers; keys without a handler go to rest, or are
// reported as unknown when rest is nil.
func (d *decoder) fields(path, what string, n ast.Node, handlers map[string]func(p string, v ast.Node), rest func(e entry)) bool {
	entries, ok := d.mapping(path, what, n)
	if !ok {
		return false
	}
	for _, e := range entries {
		if h, ok := handlers[e.key]; ok {
			h(join(path, e.key), e.value)
			continue
		}
		if rest != nil {
			rest(e)
			continue
		}
		d.errorf(e.keyN, "%s: unknown key %q, expected one of: %s", pathOr(path, what), e.key, keyList(handlers))
	}
	return true
}

func keyList(handlers map[string]func(string, ast.Node)) string {
	keys := make([]string, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOr(path, what string) string {
	if path == "" {
		return what
	}
	return path
}

// sequence returns a sequence's items.
func (d *decoder) sequence(path, what string, n ast.Node) ([]ast.Node, bool) {
	n = d.value(path, n)
	if n == nil {
		return nil, false
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.errorf(n, "%s: expected %s (a list), got %s", path, what, describe(n))
		return nil, false
	}
	return seq.Values, true
}

func (d *decoder) str(path string, n ast.Node, out *string) bool {
	n = d.value(path, n)
	if n == nil {
		return false
	}
	switch v := n.(type) {
	case *ast.StringNode:
		*out = v.Value
		return true
	case *ast.LiteralNode:
		if v.Value != nil {
			*out = v.Value.Value
		}
		return true
	}
	d.errorf(n, "%s: expected a string, got %s", path, describe(n))
	return false
}

func (d *decoder) strList(path string, n ast.Node, out *[]string) bool {
	items, ok := d.sequence(path, "a list of strings", n)
	if !ok {
		return false
	}
	all := true
	list := make([]string, 0, len(items))
	for i, it := range items {
		var s string
		if !d.str(fmt.Sprintf("%s[%d]", path, i), it, &s) {
			all = false
			continue
		}
		list = append(list, s)
	}
	*out = list
	return all
}

func (d *decoder) boolean(path string, n ast.Node, out *bool) bool {
	n = d.value(path, n)
	if n == nil {
		return false
	}
	b, ok := n.(*ast.BoolNode)
	if !ok {
		d.errorf(n, "%s: expected true or false, got %s", path, describe(n))
		return false
	}
	*out = b.Value
	return true
}

func (d *decoder) integer(path string, n ast.Node, lo, hi int64, out *int64) bool {
	n = d.value(path, n)
	if n == nil {
		return false
	}
	want := fmt.Sprintf("an integer in %d..%d", lo, hi)
	if lo == math.MinInt64 && hi == math.MaxInt64 {
		want = "an integer"
	}
	iv, ok := n.(*ast.IntegerNode)
	if !ok {
		d.errorf(n, "%s: expected %s, got %s", path, want, describe(n))
		return false
	}
	var v int64
	switch x := iv.Value.(type) {
	case int64:
		v = x
	case uint64:
		if x > math.MaxInt64 {
			d.errorf(n, "%s: expected %s, got %d", path, want, x)
			return false
		}
		v = int64(x)
	default:
		d.errorf(n, "%s: expected %s, got %s", path, want, describe(n))
		return false
	}
	if v < lo || v > hi {
		d.errorf(n, "%s: expected %s, got %d", path, want, v)
		return false
	}
	*out = v
	return true
}

func (d *decoder) intField(path string, n ast.Node, lo, hi int64, out *int) bool {
	var v int64
	if !d.integer(path, n, lo, hi, &v) {
		return false
	}
	*out = int(v)
	return true
}

// number accepts an integer or a float.
func (d *decoder) number(path string, n ast.Node, out *float64) bool {
	n = d.value(path, n)
	if n == nil {
		return false
	}
	switch v := n.(type) {
	case *ast.IntegerNode:
		f, err := strconv.ParseFloat(v.GetToken().Value, 64)
		if err == nil {
			*out = f
			return true
		}
	case *ast.FloatNode:
		*out = v.Value
		return true
	}
	d.errorf(n, "%s: expected a number, got %s", path, describe(n))
	return false
}

// duration accepts a Go duration string such as 20s or 1m30s.
func (d *decoder) duration(path string, n ast.Node, allowZero bool, out *Duration) bool {
	n = d.value(path, n)
	if n == nil {
		return false
	}
	want := "a positive duration like 20s"
	if allowZero {
		want = "a duration like 20s (0s allowed)"
	}
	s, ok := scalarText(n)
	if !ok || n.Type() != ast.StringType && !(allowZero && s == "0") {
		d.errorf(n, "%s: expected %s, got %s", path, want, describe(n))
		return false
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 || v == 0 && !allowZero {
		d.errorf(n, "%s: expected %s, got %q", path, want, s)
		return false
	}
	*out = Duration(v)
	return true
}

// stdDuration is duration (positive) into a time.Duration, for the verdict's types.
func (d *decoder) stdDuration(path string, n ast.Node, out *time.Duration) bool {
	var v Duration
	ok := d.duration(path, n, false, &v)
	if ok {
		*out = v.D()
	}
	return ok
}

// scalarText is the text of a scalar node as written.
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		tk := n.GetToken()
		if tk == nil {
			return "", false
		}
		return tk.Value, true
	}
	return "", false
}

// describe names a node's type for an error message.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return "nothing"
	case *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return strconv.Quote(v.Value)
	case *ast.BoolNode:
		return "boolean " + v.GetToken().Value
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "number " + v.GetToken().Value
	case *ast.LiteralNode:
		return "a block string"
	}
	return n.Type().String()
}
