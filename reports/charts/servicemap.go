package charts

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/system/topology"
)

// Node colours of the service map, by blast radius.
const (
	NodeOrigin     = "#d9483b"
	NodeAffected   = "#f0a030"
	NodeUnaffected = "#4caf7a"
	NodeNoData     = "#b8b8b8"
)

const (
	mapW      = 960
	boxW      = 128
	boxH      = 40
	rowGap    = 84
	mapMargin = 24
	legendH   = 34
)

type mapNode struct {
	name         string
	layer, order int
	x, y         float64
	status       string // origin | affected | unaffected | no data
}

// ServiceMap draws the services and edges learned from spans as a layered graph, left (entry)
// to right (stores), nodes coloured by blast radius and edges labelled with calls and errors
// during the fault (or over the run when there was no fault phase).
func ServiceMap(res *reports.Results) (string, error) {
	nodes, order := layout(res)
	layers := 0
	maxRows := 1
	perLayer := map[int]int{}
	for _, n := range nodes {
		layers = max(layers, n.layer+1)
		perLayer[n.layer]++
		maxRows = max(maxRows, perLayer[n.layer])
	}
	h := float64(2*mapMargin+legendH+28) + float64(maxRows-1)*rowGap + boxH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart servicemap" role="img" aria-label="Service map" width="100%%" viewBox="0 0 %d %.0f" xmlns="http://www.w3.org/2000/svg" font-family="'Liberation Sans',Arial,Helvetica,sans-serif">`+"\n", mapW, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%.0f" fill="#fff"/>`+"\n", mapW, h)
	b.WriteString(`<text x="8" y="20" font-size="16" font-weight="bold" fill="#222">Service map and blast radius</text>` + "\n")
	if len(nodes) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-size="14" text-anchor="middle" fill="#555">no spans: the service map is empty</text>`+"\n", mapW/2, h/2)
		b.WriteString("</svg>")
		return b.String(), nil
	}
	colGap := 0.0
	if layers > 1 {
		colGap = float64(mapW-2*mapMargin-boxW) / float64(layers-1)
	}
	top := float64(mapMargin + 28)
	for _, name := range order {
		n := nodes[name]
		n.x = mapMargin + float64(n.layer)*colGap
		if layers == 1 {
			n.x = (mapW - boxW) / 2
		}
		// Centre each column vertically.
		offset := float64(maxRows-perLayer[n.layer]) * rowGap / 2
		n.y = top + offset + float64(n.order)*rowGap
	}
	origins, affected := blastSets(res)
	var placed []labelBox
	for _, r := range routeEdges(res, nodes) {
		drawEdge(&b, r, edgeColour(topology.EdgeName(r.e.From, r.e.To), origins, affected), colGap, &placed)
	}
	for _, name := range order {
		drawNode(&b, nodes[name])
	}
	ly := h - legendH/2 - 4
	x := 12.0
	for _, l := range []struct{ c, t string }{{NodeOrigin, "fault origin"}, {NodeAffected, "affected"}, {NodeUnaffected, "unaffected"}, {NodeNoData, "no data"}} {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="14" height="14" rx="3" fill="%s"/><text x="%.0f" y="%.0f" font-size="13" fill="#222">%s</text>`+"\n", x, ly-7, l.c, x+20, ly+5, l.t)
		x += 40 + 7.2*float64(len(l.t))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-size="12" fill="#555" text-anchor="end">edge labels: calls · errors (%s); thickness: calls</text>`+"\n", mapW-12, ly+5, labelPhase(res))
	b.WriteString("</svg>")
	return b.String(), nil
}

// layout places each node in the layer of its longest path from an entry point, ordered in
// the layer by the mean position of its callers so that edges cross less.
func layout(res *reports.Results) (map[string]*mapNode, []string) {
	nodes := map[string]*mapNode{}
	var edges [][2]string
	for _, e := range sortedEdges(res) {
		if e.From == "" || e.To == "" || e.From == e.To {
			continue
		}
		for _, n := range []string{e.From, e.To} {
			if nodes[n] == nil {
				nodes[n] = &mapNode{name: n}
			}
		}
		edges = append(edges, [2]string{e.From, e.To})
	}
	// Longest path by relaxation; bounded so a cycle cannot loop forever.
	for range len(nodes) {
		changed := false
		for _, e := range edges {
			if nodes[e[1]].layer < nodes[e[0]].layer+1 && nodes[e[0]].layer+1 < len(nodes) {
				nodes[e[1]].layer = nodes[e[0]].layer + 1
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	byLayer := map[int][]string{}
	maxLayer := 0
	for _, n := range names {
		byLayer[nodes[n].layer] = append(byLayer[nodes[n].layer], n)
		maxLayer = max(maxLayer, nodes[n].layer)
	}
	for l := 0; l <= maxLayer; l++ {
		ns := byLayer[l]
		bary := map[string]float64{}
		for _, n := range ns {
			sum, cnt := 0.0, 0.0
			for _, e := range edges {
				if e[1] == n && nodes[e[0]].layer < l {
					sum += float64(nodes[e[0]].order)
					cnt++
				}
			}
			bary[n] = math.Inf(1)
			if cnt > 0 {
				bary[n] = sum / cnt
			}
		}
		sort.SliceStable(ns, func(i, j int) bool { return bary[ns[i]] < bary[ns[j]] })
		for i, n := range ns {
			nodes[n].order = i
		}
	}
	origins, affected := blastSets(res)
	hasData := map[string]bool{}
	if res.BlastRadius != nil {
		for _, s := range res.BlastRadius.Services {
			if s.Kind != "edge" && !s.Unproven { // too few fault-phase calls: not shown unaffected
				hasData[s.Name] = true
			}
		}
	}
	var order []string
	for l := 0; l <= maxLayer; l++ {
		order = append(order, byLayer[l]...)
	}
	for _, n := range order {
		switch {
		case n == "client":
			nodes[n].status = "load generator" // the lab itself: nothing to judge
		case origins[n]:
			nodes[n].status = "origin"
		case affected[n]:
			nodes[n].status = "affected"
		case hasData[n]:
			nodes[n].status = "unaffected"
		default:
			nodes[n].status = "no data"
		}
	}
	return nodes, order
}

// blastSets collects what the blast radius (and the fault timeline) name as origins and as
// affected, services and edges alike.
func blastSets(res *reports.Results) (origins, affected map[string]bool) {
	origins, affected = map[string]bool{}, map[string]bool{}
	for _, f := range res.Faults {
		if !f.Background {
			origins[f.Target] = true
		}
	}
	if br := res.BlastRadius; br != nil {
		for _, o := range br.Origins {
			origins[o] = true
		}
		for _, s := range br.AffectedServices {
			affected[s] = true
		}
		for _, e := range br.AffectedEdges {
			affected[e] = true
		}
		for _, s := range br.Services {
			if s.Affected {
				affected[s.Name] = true
			}
		}
	}
	return origins, affected
}

func edgeColour(name string, origins, affected map[string]bool) string {
	switch {
	case origins[name]:
		return NodeOrigin
	case affected[name]:
		return NodeAffected
	}
	return "#8a8a8a"
}

func sortedEdges(res *reports.Results) []reports.MapEdge {
	es := append([]reports.MapEdge(nil), res.ServiceMap...)
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].From != es[j].From {
			return es[i].From < es[j].From
		}
		return es[i].To < es[j].To
	})
	return es
}

// labelPhase is the phase whose figures label the edges.
func labelPhase(res *reports.Results) string {
	for _, e := range res.ServiceMap {
		for _, f := range e.Phases {
			if f.Phase == reports.PhaseFault {
				return "fault phase"
			}
		}
	}
	return "whole run"
}

// edgeFigures picks the fault phase, else sums every phase that is not an aggregate.
func edgeFigures(e reports.MapEdge) (calls, errs int) {
	for _, f := range e.Phases {
		if f.Phase == reports.PhaseFault {
			return f.Calls, f.Errors
		}
	}
	for _, f := range e.Phases {
		if f.Phase != "all" {
			calls += f.Calls
			errs += f.Errors
		}
	}
	return calls, errs
}

// route is an edge with its ports: edges leave a node's right side and enter the left side at
// evenly spread points, in the vertical order of their other ends, so fans do not overlap.
type route struct {
	e              reports.MapEdge
	from, to       *mapNode
	x1, y1, x2, y2 float64
}

func routeEdges(res *reports.Results, nodes map[string]*mapNode) []route {
	var rs []*route
	out, in := map[string][]*route{}, map[string][]*route{}
	for _, e := range sortedEdges(res) {
		from, to := nodes[e.From], nodes[e.To]
		if from == nil || to == nil {
			continue
		}
		r := &route{e: e, from: from, to: to}
		rs = append(rs, r)
		out[e.From] = append(out[e.From], r)
		in[e.To] = append(in[e.To], r)
	}
	spread := func(group map[string][]*route, key func(*route) float64, set func(*route, float64), n func(*route) *mapNode) {
		for _, g := range group {
			sort.SliceStable(g, func(i, j int) bool { return key(g[i]) < key(g[j]) })
			for i, r := range g {
				nd := n(r)
				set(r, nd.y+boxH*float64(i+1)/float64(len(g)+1))
			}
		}
	}
	spread(out, func(r *route) float64 { return r.to.y }, func(r *route, y float64) { r.x1, r.y1 = r.from.x+boxW, y }, func(r *route) *mapNode { return r.from })
	spread(in, func(r *route) float64 { return r.from.y }, func(r *route, y float64) { r.x2, r.y2 = r.to.x, y }, func(r *route) *mapNode { return r.to })
	res2 := make([]route, len(rs))
	for i, r := range rs {
		res2[i] = *r
	}
	return res2
}

// labelBox is where an edge label was put, to keep the next one off it.
type labelBox struct{ x0, y0, x1, y1 float64 }

func (l labelBox) overlaps(o labelBox) bool {
	return l.x0 < o.x1 && o.x0 < l.x1 && l.y0 < o.y1 && o.y0 < l.y1
}

func drawEdge(b *strings.Builder, r route, colour string, colGap float64, placed *[]labelBox) {
	calls, errs := edgeFigures(r.e)
	from, to := r.from, r.to
	x1, y1, x2, y2 := r.x1, r.y1, r.x2, r.y2
	var path string
	var mx, my float64
	if to.layer > from.layer {
		dx := math.Min((x2-x1)/2, colGap*0.6)
		cx1, cx2 := x1+dx, x2-dx
		path = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, cx1, y1, cx2, y2, x2-8, y2)
		// The label sits in the gap right after the source, where no node can be.
		target := x1 + (colGap-boxW)/2
		if to.layer == from.layer+1 {
			target = (x1 + x2) / 2
		}
		t := bezierT(x1, cx1, cx2, x2-8, target)
		mx, my = bezier(x1, cx1, cx2, x2-8, t), bezier(y1, y1, y2, y2, t)
	} else {
		// A call back to an earlier layer (or within one) loops under the boxes.
		x1, y1 = from.x+boxW/2, from.y+boxH
		x2, y2 = to.x+boxW/2+10, to.y+boxH+8
		path = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, x1, y1+40, x2, y2+40, x2, y2)
		mx, my = (x1+x2)/2, math.Max(y1, y2)+30
	}
	width := 1.2 + math.Min(2.5, math.Log10(float64(calls)+1)/1.6)
	dash := ""
	if calls == 0 {
		dash = ` stroke-dasharray="4 3"`
	}
	fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.1f" stroke-opacity="0.85"%s/>`+"\n", path, colour, width, dash)
	if to.layer > from.layer {
		fmt.Fprintf(b, `<path d="M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z" fill="%s"/>`+"\n", x2-9, y2-4.5, x2, y2, x2-9, y2+4.5, colour)
	}
	label := thousands(calls)
	if errs > 0 {
		label += fmt.Sprintf(" · %s err", thousands(errs))
	}
	w := 6.4*float64(len([]rune(label))) + 8
	box := labelBox{mx - w/2, my - 9, mx + w/2, my + 8}
	for try := 0; try < 12; try++ {
		clash := false
		for _, p := range *placed {
			if box.overlaps(p) {
				clash = true
				break
			}
		}
		if !clash {
			break
		}
		shift := 9.0 * float64(try/2+1)
		if try%2 == 1 {
			shift = -shift
		}
		box = labelBox{mx - w/2, my - 9 + shift, mx + w/2, my + 8 + shift}
	}
	*placed = append(*placed, box)
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="16" rx="3" fill="#fff" fill-opacity="0.92" stroke="%s" stroke-width="0.6"/>`, box.x0, box.y0, w, colour)
	weight := ""
	if errs > 0 {
		weight = ` font-weight="bold"`
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11.5" text-anchor="middle" fill="%s"%s>%s</text>`+"\n", (box.x0+box.x1)/2, box.y0+12, labelColour(colour), weight, html.EscapeString(label))
}

func bezier(p0, p1, p2, p3, t float64) float64 {
	u := 1 - t
	return u*u*u*p0 + 3*u*u*t*p1 + 3*u*t*t*p2 + t*t*t*p3
}

// bezierT finds where a monotonic cubic reaches x, by bisection.
func bezierT(p0, p1, p2, p3, x float64) float64 {
	lo, hi := 0.0, 1.0
	for range 30 {
		mid := (lo + hi) / 2
		if bezier(p0, p1, p2, p3, mid) < x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

func labelColour(edge string) string {
	if edge == "#8a8a8a" {
		return "#444"
	}
	return "#8a2a10"
}

func drawNode(b *strings.Builder, n *mapNode) {
	fill := map[string]string{"origin": NodeOrigin, "affected": NodeAffected, "unaffected": NodeUnaffected, "load generator": "#ffffff"}[n.status]
	if fill == "" {
		fill = NodeNoData
	}
	fmt.Fprintf(b, `<g><title>%s: %s</title><rect x="%.1f" y="%.1f" width="%d" height="%d" rx="7" fill="%s" stroke="#333" stroke-width="0.8"/>`,
		html.EscapeString(n.name), n.status, n.x, n.y, boxW, boxH, fill)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="14" font-weight="bold" text-anchor="middle" fill="#111">%s</text>`,
		n.x+boxW/2, n.y+17, html.EscapeString(n.name))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" fill="#222">%s</text></g>`+"\n",
		n.x+boxW/2, n.y+32, n.status)
}

// thousands formats n with thin separators, as people read counts.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
