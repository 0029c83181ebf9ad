package topology

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestTopologyMatchesContracts reads docs/contracts.md so the two cannot drift.
func TestTopologyMatchesContracts(t *testing.T) {
	b, err := os.ReadFile("../../docs/contracts.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	row := regexp.MustCompile("(?m)^\\| `([a-z-]+->[a-z-]+)` \\| (\\w+) \\| (.*) \\|$")
	var fromDoc []string
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		name, proto, caller := m[1], m[2], m[3]
		fromDoc = append(fromDoc, name)
		e, ok := edgeByName(name)
		if !ok {
			t.Errorf("edge %s of contracts.md missing from the topology", name)
			continue
		}
		if e.Protocol != proto {
			t.Errorf("%s: protocol %s, contracts say %s", name, e.Protocol, proto)
		}
		if e.EnvVar != "" && !strings.Contains(caller, "`"+e.EnvVar+"`") {
			t.Errorf("%s: env %s not in %q", name, e.EnvVar, caller)
		}
		if from, to, _ := strings.Cut(name, "->"); e.From != from || e.To != to {
			t.Errorf("%s: from/to %s/%s", name, e.From, e.To)
		}
	}
	if len(fromDoc) != 13 || len(Edges()) != 13 {
		t.Errorf("contracts list %d edges, topology %d; want 13 each", len(fromDoc), len(Edges()))
	}
	order := regexp.MustCompile("(?s)Components, in start order:\n(.*?)\n\n").FindStringSubmatch(doc)
	if order == nil {
		t.Fatal("start order not found in contracts.md")
	}
	var names []string
	for _, m := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(order[1], -1) {
		names = append(names, m[1])
	}
	if !slices.Equal(names, Components()) {
		t.Errorf("components %v, contracts say %v", Components(), names)
	}
}

func TestStartOrderRespectsDependencies(t *testing.T) {
	pos := map[string]int{}
	for i, c := range Components() {
		pos[c] = i
	}
	for _, e := range Edges() {
		if e.From == Client {
			continue
		}
		if pos[e.To] >= pos[e.From] {
			t.Errorf("%s: %s starts after its caller", e.Name, e.To)
		}
	}
}

func TestIsEdgeIsComponent(t *testing.T) {
	tests := []struct {
		name      string
		edge, cmp bool
	}{
		{"redirect->link", true, false},
		{"client->gateway", true, false},
		{"link->redirect", false, false},
		{"link-db", false, true},
		{"client", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if IsEdge(tt.name) != tt.edge || IsComponent(tt.name) != tt.cmp {
			t.Errorf("%q: IsEdge %v IsComponent %v", tt.name, IsEdge(tt.name), IsComponent(tt.name))
		}
	}
}

func edgeByName(name string) (Edge, bool) {
	for _, e := range Edges() {
		if e.Name == name {
			return e, true
		}
	}
	return Edge{}, false
}

func TestServicesAreTheServiceComponents(t *testing.T) {
	var want []string
	for _, c := range Components() {
		if KindOf(c) == KindService {
			want = append(want, c)
		}
	}
	got := Services()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Services() = %v, want the components of kind service %v", got, want)
	}
	if Services()[0] != Entry {
		t.Errorf("Services() starts with %s, want the entry %s", Services()[0], Entry)
	}
}

func TestEdgeNames(t *testing.T) {
	for i, e := range Edges() {
		if EdgeNames()[i] != e.Name || EdgeName(e.From, e.To) != e.Name {
			t.Errorf("edge %d: EdgeNames %q, EdgeName %q, want %q", i, EdgeNames()[i], EdgeName(e.From, e.To), e.Name)
		}
		if !IsComponent(e.To) || e.From != Client && !IsComponent(e.From) {
			t.Errorf("%s: an end is not a component", e.Name)
		}
	}
	if e := Edges()[0]; e.From != Client || e.To != Entry {
		t.Errorf("first edge %s, want %s", e.Name, EdgeName(Client, Entry))
	}
}

func TestSplitEdge(t *testing.T) {
	for _, c := range []struct {
		in, from, to string
		ok           bool
	}{
		{"redirect->link", "redirect", "link", true},
		{"a->b->c", "a", "b->c", true},
		{"->link", "", "link", false},
		{"link->", "link", "", false},
		{"link", "", "", false},
		{"", "", "", false},
	} {
		from, to, ok := SplitEdge(c.in)
		if from != c.from || to != c.to || ok != c.ok {
			t.Errorf("SplitEdge(%q) = %q, %q, %v; want %q, %q, %v", c.in, from, to, ok, c.from, c.to, c.ok)
		}
	}
}
