package scenarios

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/faultline/faultline/reports"
	"github.com/faultline/faultline/reports/verdict"
	"github.com/faultline/faultline/system/topology"
)

// scenario decodes the top-level mapping; defaults are filled in by validate.
func (d *decoder) scenario(n ast.Node) *Scenario {
	// Links -1 until given: validate then derives it from the streams.
	sc := &Scenario{Seed: DefaultSeed, Setup: Setup{Links: -1, WarmCache: new(true)}}
	var seen = map[string]ast.Node{}
	mark := func(key string, v ast.Node) { seen[key] = v }
	ok := d.fields("", "the scenario", n, map[string]func(string, ast.Node){
		"name":        func(p string, v ast.Node) { mark(p, v); d.str(p, v, &sc.Name) },
		"description": func(p string, v ast.Node) { d.str(p, v, &sc.Description) },
		"profile":     func(p string, v ast.Node) { mark(p, v); d.str(p, v, &sc.Profile) },
		"seed": func(p string, v ast.Node) {
			d.integer(p, v, math.MinInt64, math.MaxInt64, &sc.Seed)
		},
		"duration": func(p string, v ast.Node) { mark(p, v); d.duration(p, v, false, &sc.Duration) },
		"load": func(p string, v ast.Node) {
			mark(p, v)
			items, _ := d.sequence(p, "a list of load streams", v)
			for i, it := range items {
				sc.Load = append(sc.Load, d.stream(fmt.Sprintf("%s[%d]", p, i), it))
			}
		},
		"setup": func(p string, v ast.Node) {
			mark(p, v)
			d.fields(p, "setup", v, map[string]func(string, ast.Node){
				"links": func(p string, v ast.Node) { d.intField(p, v, 0, MaxCodes, &sc.Setup.Links) },
				"warm_cache": func(p string, v ast.Node) {
					var b bool
					if d.boolean(p, v, &b) {
						sc.Setup.WarmCache = &b
					}
				},
			}, nil)
		},
		"faults": func(p string, v ast.Node) {
			items, _ := d.sequence(p, "a list of faults", v)
			for i, it := range items {
				sc.Faults = append(sc.Faults, d.fault(fmt.Sprintf("%s[%d]", p, i), it))
			}
		},
		"slos": func(p string, v ast.Node) {
			mark(p, v)
			items, _ := d.sequence(p, "a list of SLOs", v)
			for i, it := range items {
				slo, at := d.slo(fmt.Sprintf("%s[%d]", p, i), it)
				sc.SLOs, sc.sloPos = append(sc.SLOs, slo), append(sc.sloPos, at)
			}
		},
		"expect":     func(p string, v ast.Node) { sc.impactPos = d.expect(p, v, &sc.Expect) },
		"blast":      func(p string, v ast.Node) { d.blast(p, v, &sc.Blast) },
		"abort_when": func(p string, v ast.Node) { sc.AbortWhen = d.aborts(p, v) },
		"controls":   func(p string, v ast.Node) { sc.Controls = d.controls(p, v) },

		"code_controls": func(p string, v ast.Node) { sc.CodeControls = d.codeControls(p, v) },
	}, nil)
	if !ok {
		return nil
	}
	sc.keyPos = map[string]Pos{}
	for k, v := range seen {
		sc.keyPos[k] = posOf(v)
	}
	for _, key := range []string{"name", "duration", "load"} {
		if seen[key] == nil {
			d.errs.add(d.file, posOf(n), "the scenario: missing key %q", key)
		}
	}
	return sc
}

var requestRE = regexp.MustCompile(`^(GET|POST|PUT|DELETE|HEAD|PATCH) (/\S*)$`)

func (d *decoder) stream(path string, n ast.Node) Stream {
	st := Stream{pos: posOf(n), codesAt: posOf(n), Codes: -1}
	var nameN, requestN, rateN, rampN, stagesN, bodyN, codesN ast.Node
	isMap := d.fields(path, "a load stream", n, map[string]func(string, ast.Node){
		"name": func(p string, v ast.Node) { nameN = v; d.name(p, v, &st.Name) },
		"request": func(p string, v ast.Node) {
			requestN = v
			if !d.str(p, v, &st.Request) {
				return
			}
			m := requestRE.FindStringSubmatch(st.Request)
			if m == nil {
				d.errorf(v, "%s: expected \"METHOD /path\" such as \"GET /r/{code}\", got %q", p, st.Request)
				return
			}
			st.Method, st.Path = m[1], m[2]
			if bad := badPlaceholder(st.Path); bad != "" {
				d.errorf(v, "%s: unknown placeholder %q, expected only {code}", p, bad)
			}
		},
		"rate": func(p string, v ast.Node) { rateN = v; d.rate(p, v, &st.Rate) },
		"ramp": func(p string, v ast.Node) {
			rampN = v
			r := &Ramp{}
			var seenTo, seenOver bool
			d.fields(p, "a ramp", v, map[string]func(string, ast.Node){
				"from": func(p string, v ast.Node) { d.rateBound(p, v, true, &r.From) },
				"to":   func(p string, v ast.Node) { seenTo = d.rateBound(p, v, false, &r.To) },
				"over": func(p string, v ast.Node) { seenOver = d.duration(p, v, false, &r.Over) },
			}, nil)
			if !seenTo || !seenOver {
				d.errorf(v, "%s: expected to and over (from defaults to 0)", p)
			}
			st.Ramp = r
		},
		"stages": func(p string, v ast.Node) {
			stagesN = v
			items, _ := d.sequence(p, "a list of stages", v)
			for i, it := range items {
				sp := fmt.Sprintf("%s[%d]", p, i)
				sg := Stage{}
				var seenRate, seenFor bool
				if !d.fields(sp, "a stage", it, map[string]func(string, ast.Node){
					// 0/s pauses the stream (a game day's stream that started late or stopped).
					"rate": func(p string, v ast.Node) { seenRate = true; d.rateBound(p, v, true, &sg.Rate) },
					"for":  func(p string, v ast.Node) { seenFor = true; d.duration(p, v, false, &sg.For) },
				}, nil) {
					continue
				}
				if !seenRate || !seenFor {
					d.errorf(it, "%s: expected rate and for, such as {rate: 300/s, for: 10s}", sp)
				}
				st.Stages = append(st.Stages, sg)
			}
			if len(items) > 0 && len(items) < 2 {
				d.errorf(v, "%s: expected at least two stages (one stage is a rate)", p)
			}
			if len(st.Stages) == len(items) && len(items) >= 2 && !slices.ContainsFunc(st.Stages, func(sg Stage) bool { return sg.Rate > 0 }) {
				d.errorf(v, "%s: expected at least one stage with a rate > 0 (this stream would send nothing)", p)
			}
		},
		"body":  func(p string, v ast.Node) { bodyN = v; d.str(p, v, &st.Body) },
		"codes": func(p string, v ast.Node) { codesN, st.codesAt = v, posOf(v); d.intField(p, v, 1, MaxCodes, &st.Codes) },
	}, nil)
	if !isMap {
		return st
	}
	if nameN == nil {
		d.errorf(n, "%s: missing key \"name\"", path)
	}
	if requestN == nil {
		d.errorf(n, "%s: missing key \"request\"", path)
	}
	var given []string
	var second ast.Node
	for _, k := range []struct {
		name string
		n    ast.Node
	}{{"rate", rateN}, {"ramp", rampN}, {"stages", stagesN}} {
		if k.n != nil {
			given = append(given, k.name)
			if len(given) == 2 {
				second = k.n
			}
		}
	}
	switch {
	case len(given) == 0:
		d.errorf(n, "%s: expected rate (such as 300/s), ramp or stages", path)
	case len(given) > 1:
		d.errorf(second, "%s: expected one of rate, ramp and stages, got %s", path, strings.Join(given, " and "))
	case st.Ramp != nil:
		st.Rate = st.Ramp.To
	case len(st.Stages) > 0:
		st.Rate = st.Stages[len(st.Stages)-1].Rate
	}
	if bodyN != nil && st.Method != "" && st.Method != "POST" && st.Method != "PUT" && st.Method != "PATCH" {
		d.errorf(bodyN, "%s.body: expected no body for %s", path, st.Method)
	}
	if st.Body == "" && (st.Method == "POST" || st.Method == "PUT" || st.Method == "PATCH") {
		st.Body = DefaultBody
	}
	if bodyN != nil && st.Body != "" && !validBodyTemplate(st.Body) {
		d.errorf(bodyN, "%s.body: expected a JSON template (with optional <seq> and <n>), got %q", path, st.Body)
	}
	if st.Path != "" && !pathHasCode(st.Path) && codesN != nil {
		d.errorf(codesN, "%s.codes: expected codes only on a request with {code}", path)
	}
	if !pathHasCode(st.Path) {
		st.Codes = 0
	} // else -1 (not given) is resolved by validate against setup.links
	return st
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (d *decoder) name(path string, v ast.Node, out *string) {
	var s string
	if !d.str(path, v, &s) {
		return
	}
	if !nameRE.MatchString(s) {
		d.errorf(v, "%s: expected a name of lower-case letters, digits, - and _ (at most 63), got %q", path, s)
		return
	}
	*out = s
}

// rate reads "300/s" or a bare number per second.
func (d *decoder) rate(path string, v ast.Node, out *float64) bool {
	return d.rateBound(path, v, false, out)
}

func (d *decoder) rateBound(path string, v ast.Node, allowZero bool, out *float64) bool {
	v = d.value(path, v)
	if v == nil {
		return false
	}
	s, ok := scalarText(v)
	if !ok || v.Type() == ast.BoolType {
		d.errorf(v, "%s: expected a rate such as 300/s, got %s", path, describe(v))
		return false
	}
	num := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	r, err := strconv.ParseFloat(num, 64)
	lo := "> 0"
	if allowZero {
		lo = ">= 0"
	}
	if err != nil || r != r || r < 0 || r == 0 && !allowZero || r > MaxRate {
		d.errorf(v, "%s: expected a rate %s and at most %d/s such as 300/s, got %q", path, lo, MaxRate, s)
		return false
	}
	*out = r
	return true
}

var placeholderRE = regexp.MustCompile(`\{[^}]*\}`)

func badPlaceholder(path string) string {
	for _, m := range placeholderRE.FindAllString(path, -1) {
		if m != "{code}" {
			return m
		}
	}
	return ""
}

func pathHasCode(path string) bool { return strings.Contains(path, "{code}") }

// typedValue keeps a parameter's YAML type for toxics.New: 400 is a number of milliseconds
// there, "400ms" a duration string.
func typedValue(v ast.Node, text string) any {
	switch n := v.(type) {
	case *ast.IntegerNode:
		return n.Value
	case *ast.FloatNode:
		return n.Value
	case *ast.BoolNode:
		return n.Value
	}
	return text
}

func (d *decoder) fault(path string, n ast.Node) Fault {
	f := Fault{pos: posOf(n), Params: map[string]string{}}
	var (
		atN, forN, restartAfterN, edgeN, compN ast.Node
		nameKeys                               []entry
	)
	handlers := map[string]func(string, ast.Node){
		"at":            func(p string, v ast.Node) { atN = v; f.atPos = posOf(v); d.duration(p, v, true, &f.At) },
		"for":           func(p string, v ast.Node) { forN = v; d.duration(p, v, false, &f.For) },
		"restart_after": func(p string, v ast.Node) { restartAfterN = v; d.duration(p, v, false, &f.For) },
		"edge":          func(p string, v ast.Node) { edgeN = v; d.str(p, v, &f.Edge) },
		"component":     func(p string, v ast.Node) { compN = v; d.str(p, v, &f.Component) },
		"background": func(p string, v ast.Node) {
			if v = d.value(p, v); v == nil {
				return
			}
			b, ok := v.(*ast.BoolNode)
			if !ok {
				d.errorf(v, "%s: expected true or false, got %s", p, describe(v))
				return
			}
			f.Background = b.Value
		},
	}
	for _, k := range []string{"toxic", "fault", "crash", "pause", "restart"} {
		handlers[k] = func(_ string, v ast.Node) { nameKeys = append(nameKeys, entry{key: k, value: v}) }
	}
	ok := d.fields(path, "a fault", n, handlers, func(e entry) {
		v := d.value(join(path, e.key), e.value)
		if v == nil {
			return
		}
		s, ok := scalarText(v)
		if !ok {
			d.errorf(v, "%s: expected a scalar parameter value, got %s", join(path, e.key), describe(v))
			return
		}
		f.Params[e.key] = s
		if f.paramPos == nil {
			f.paramPos, f.paramVals = map[string]Pos{}, map[string]any{}
		}
		f.paramPos[e.key] = posOf(e.keyN)
		f.paramVals[e.key] = typedValue(v, s)
	})
	if !ok {
		return f
	}
	if atN == nil {
		d.errorf(n, "%s: missing key \"at\" (when the fault starts, such as 20s)", path)
	}
	if forN != nil && restartAfterN != nil {
		d.errorf(restartAfterN, "%s.restart_after: expected for or restart_after, not both", path)
	}
	switch len(nameKeys) {
	case 0:
		d.errorf(n, "%s: expected the fault: toxic: NAME with edge, fault: NAME, or crash|pause|restart: COMPONENT", path)
		return f
	case 1:
	default:
		d.errorf(nameKeys[1].value, "%s.%s: expected one fault per entry, also got %s", path, nameKeys[1].key, nameKeys[0].key)
		return f
	}
	nk := nameKeys[0]
	p := join(path, nk.key)
	switch nk.key {
	case "toxic", "fault":
		d.str(p, nk.value, &f.Fault)
	default: // crash: COMPONENT shorthand
		f.Fault = nk.key
		if compN != nil {
			d.errorf(compN, "%s.component: the component is already given by %s:", path, nk.key)
		} else {
			compN = nk.value
			d.str(p, nk.value, &f.Component)
		}
	}
	if restartAfterN != nil && f.Fault != "crash" {
		d.errorf(restartAfterN, "%s.restart_after: expected for (restart_after is for crash)", path)
	}
	if forN == nil && restartAfterN == nil && f.Fault != "restart" {
		d.errorf(n, "%s: missing key \"for\" (how long the fault lasts; restart_after for crash)", path)
	}
	d.checkTarget(path, &f, edgeN, compN, n)
	return f
}

func (d *decoder) slo(path string, n ast.Node) (verdict.SLO, sloPos) {
	slo, at := verdict.SLO{}, sloPos{}
	var loadN, thrN ast.Node
	isMap := d.fields(path, "an SLO", n, map[string]func(string, ast.Node){
		"load": func(p string, v ast.Node) { loadN = v; at.load = posOf(v); d.str(p, v, &slo.Load) },
		"phases": func(p string, v ast.Node) {
			items, _ := d.sequence(p, "a list of phases", v)
			for i, it := range items {
				var ph string
				ip := fmt.Sprintf("%s[%d]", p, i)
				if !d.str(ip, it, &ph) {
					continue
				}
				switch ph {
				case reports.PhaseBaseline, reports.PhaseFault, reports.PhaseRecovery, reports.PhaseAll:
					slo.Phases = append(slo.Phases, ph)
					at.phases = append(at.phases, posOf(it))
				default:
					d.errorf(it, "%s: expected a phase: baseline, fault, recovery or all, got %q", ip, ph)
				}
			}
		},
		"thresholds": func(p string, v ast.Node) {
			thrN = v
			items, _ := d.sequence(p, "a list of thresholds", v)
			for i, it := range items {
				var raw string
				ip := fmt.Sprintf("%s[%d]", p, i)
				if !d.str(ip, it, &raw) {
					continue
				}
				t, err := verdict.ParseThreshold(raw)
				if err != nil {
					d.errorf(it, "%s: %v", ip, err)
					continue
				}
				slo.Thresholds = append(slo.Thresholds, t)
				at.thresholds = append(at.thresholds, posOf(it))
			}
		},
	}, nil)
	if isMap && loadN == nil {
		d.errorf(n, "%s: missing key \"load\" (the stream the SLO is about)", path)
	}
	if isMap && thrN == nil {
		d.errorf(n, "%s: missing key \"thresholds\"", path)
	}
	if len(slo.Phases) == 0 {
		slo.Phases = []string{reports.PhaseAll}
		at.phases = []Pos{posOf(n)}
	}
	return slo, at
}

// expect reads expect into e and returns where each user_impact stream stands.
func (d *decoder) expect(path string, n ast.Node, e *verdict.Expect) (impactPos map[string]Pos) {
	d.fields(path, "expect", n, map[string]func(string, ast.Node){
		"verdict": func(p string, v ast.Node) {
			if d.str(p, v, &e.Verdict) && e.Verdict != reports.VerdictPass && e.Verdict != reports.VerdictFail {
				d.errorf(v, "%s: expected pass or fail, got %q", p, e.Verdict)
			}
		},
		"blast_radius": func(p string, v ast.Node) {
			b := &verdict.ExpectBlast{}
			var allowN ast.Node
			e.BlastRadius = b
			d.fields(p, "blast_radius", v, map[string]func(string, ast.Node){
				"contained_to": func(p string, v ast.Node) { d.components(p, v, &b.ContainedTo) },
				"unaffected":   func(p string, v ast.Node) { d.components(p, v, &b.Unaffected) },
				"user_impact": func(p string, v ast.Node) {
					entries, _ := d.mapping(p, "stream: bound", v)
					b.UserImpact = map[string]verdict.Bound{}
					impactPos = map[string]Pos{}
					for _, en := range entries {
						impactPos[en.key] = posOf(en.keyN)
						if bd, ok := d.bound(join(p, en.key), en.value); ok {
							b.UserImpact[en.key] = bd
						}
					}
				},
				"max_affected_services": func(p string, v ast.Node) {
					var x int
					if d.intField(p, v, 0, int64(len(topology.Components())), &x) {
						b.MaxAffectedServices = &x
					}
				},
				"allow_unproven": func(p string, v ast.Node) { allowN = v; d.components(p, v, &b.AllowUnproven) },
			}, nil)
			d.allowUnproven(join(p, "allow_unproven"), allowN, b)
		},
		"mechanisms": func(p string, v ast.Node) {
			m := &verdict.ExpectMechanisms{}
			e.Mechanisms = m
			d.fields(p, "mechanisms", v, map[string]func(string, ast.Node){
				"breakers": func(p string, v ast.Node) {
					items, _ := d.sequence(p, "a list of breakers", v)
					for i, it := range items {
						m.Breakers = append(m.Breakers, d.breaker(fmt.Sprintf("%s[%d]", p, i), it))
					}
				},
				"max_retries_per_request": func(p string, v ast.Node) {
					entries, _ := d.mapping(p, "edge: number", v)
					m.MaxRetriesPerRequest = map[string]float64{}
					for _, en := range entries {
						ep := join(p, en.key)
						if !topology.IsEdge(en.key) {
							d.errorf(en.keyN, "%s: unknown edge %q, expected one of: %s", p, en.key, strings.Join(topology.EdgeNames(), ", "))
							continue
						}
						var x float64
						if d.number(ep, en.value, &x) {
							if x < 0 {
								d.errorf(en.value, "%s: expected a number >= 0", ep)
								continue
							}
							m.MaxRetriesPerRequest[en.key] = x
						}
					}
				},
			}, nil)
		},
		"conformance": func(p string, v ast.Node) { e.Conformance = d.conformance(p, v) },
		"data": func(p string, v ast.Node) {
			data := &verdict.ExpectData{}
			e.Data = data
			intp := func(out **int) func(string, ast.Node) {
				return func(p string, v ast.Node) {
					var x int
					if d.intField(p, v, 0, 1<<31-1, &x) {
						*out = &x
					}
				}
			}
			d.fields(p, "data", v, map[string]func(string, ast.Node){
				"lost_links":       intp(&data.LostLinks),
				"duplicate_clicks": intp(&data.DuplicateClicks),
				"missing_clicks":   intp(&data.MissingClicks),
				// link events analytics counts, against the acknowledged links
				"lost_link_events":      intp(&data.LostLinkEvents),
				"duplicate_link_events": intp(&data.DuplicateLinkEvents),
				// how soon after the load's end analytics must have counted everything
				"caught_up_within": func(p string, v ast.Node) {
					if d.stdDuration(p, v, &data.CaughtUpWithin) && (data.CaughtUpWithin <= 0 || data.CaughtUpWithin > MaxCaughtUpWithin) {
						d.errorf(v, "%s: want a duration in (0, %s]: the lab waits at most that long for analytics", p, MaxCaughtUpWithin)
						data.CaughtUpWithin = 0
					}
				},
			}, nil)
		},
	}, nil)
	return impactPos
}

func (d *decoder) breaker(path string, n ast.Node) verdict.ExpectBreaker {
	b := verdict.ExpectBreaker{}
	var edgeN ast.Node
	isMap := d.fields(path, "a breaker", n, map[string]func(string, ast.Node){
		"edge": func(p string, v ast.Node) {
			edgeN = v
			if d.str(p, v, &b.Edge) && !topology.IsEdge(b.Edge) {
				d.errorf(v, "%s: unknown edge %q, expected one of: %s", p, b.Edge, strings.Join(topology.EdgeNames(), ", "))
			}
		},
		"opens_within":  func(p string, v ast.Node) { d.stdDuration(p, v, &b.OpensWithin) },
		"closes_within": func(p string, v ast.Node) { d.stdDuration(p, v, &b.ClosesWithin) },
	}, nil)
	if isMap && edgeN == nil {
		d.errorf(n, "%s: missing key \"edge\"", path)
	}
	return b
}

// controls reads the mutant profiles a scenario must catch; each must be a built-in profile
// other than default (the protections the mutants are measured against), named once.
func (d *decoder) controls(path string, v ast.Node) []string {
	return d.names(path, v, "mutant", Mutants())
}

// names reads a list of distinct names of one kind, each one of known.
func (d *decoder) names(path string, v ast.Node, kind string, known []string) []string {
	items, _ := d.sequence(path, "a list of "+kind+" names", v)
	seen := map[string]bool{}
	list := []string{}
	for i, at := range items {
		var m string
		if !d.str(fmt.Sprintf("%s[%d]", path, i), at, &m) {
			continue
		}
		list = append(list, m)
		switch {
		case !slices.Contains(known, m):
			d.errorf(at, "%s[%d]: unknown %s %q, expected one of: %s", path, i, kind, m, strings.Join(known, ", "))
		case seen[m]:
			d.errorf(at, "%s[%d]: %s %q listed twice", path, i, kind, m)
		}
		seen[m] = true
	}
	return list
}

func (d *decoder) components(path string, v ast.Node, out *[]string) {
	var list []string
	d.strList(path, v, &list)
	items, _ := d.sequence(path, "", v)
	for i, c := range list {
		if !topology.IsComponent(c) {
			at := v
			if i < len(items) {
				at = items[i]
			}
			d.errorf(at, "%s[%d]: unknown component %q, expected one of: %s", path, i, c, strings.Join(topology.Components(), ", "))
		}
	}
	*out = list
}

// bound reads a share ceiling with verdict.ParseBound: "<=5%", "<1%", "0%".
func (d *decoder) bound(path string, v ast.Node) (verdict.Bound, bool) {
	v = d.value(path, v)
	if v == nil {
		return verdict.Bound{}, false
	}
	s, ok := scalarText(v)
	if !ok || v.Type() == ast.BoolType {
		d.errorf(v, "%s: expected a share bound such as \"<=5%%\" or \"0%%\", got %s", path, describe(v))
		return verdict.Bound{}, false
	}
	b, err := verdict.ParseBound(s)
	if err != nil {
		d.errorf(v, "%s: %v", path, err)
		return verdict.Bound{}, false
	}
	return b, true
}

// share reads a percentage in (0%, 100%] into dst, in the thresholds' grammar (% required).
func (d *decoder) share(p string, v ast.Node, dst *float64) {
	v = d.value(p, v)
	if v == nil {
		return
	}
	s, ok := scalarText(v)
	r, err := verdict.ParsePercent(s)
	if !ok || err != nil || r <= 0 || v.Type() == ast.BoolType {
		d.errorf(v, "%s: expected a percentage in (0%%, 100%%] such as 5%%, got %s", p, describe(v))
		return
	}
	*dst = r
}

func (d *decoder) blast(path string, n ast.Node, b *reports.BlastThresholds) {
	d.fields(path, "blast", n, map[string]func(string, ast.Node){
		"error_rate_delta": func(p string, v ast.Node) { d.share(p, v, &b.ErrorRateDelta) },
		"latency_factor": func(p string, v ast.Node) {
			if d.number(p, v, &b.LatencyFactor) && !(b.LatencyFactor >= 1 && b.LatencyFactor <= 1000) {
				d.errorf(v, "%s: expected a factor in 1..1000, got %g", p, b.LatencyFactor)
				b.LatencyFactor = 0
			}
		},
		"latency_min_ms": func(p string, v ast.Node) {
			if d.number(p, v, &b.LatencyMinMs) && !(b.LatencyMinMs >= 0 && b.LatencyMinMs <= 3.6e6) {
				d.errorf(v, "%s: expected milliseconds in 0..3600000, got %g", p, b.LatencyMinMs)
				b.LatencyMinMs = 0
			}
		},
		"abs_error_rate": func(p string, v ast.Node) { d.share(p, v, &b.AbsErrorRate) },
		"abs_latency_ms": func(p string, v ast.Node) {
			if d.number(p, v, &b.AbsLatencyMs) && !(b.AbsLatencyMs > 0 && b.AbsLatencyMs <= 3.6e6) {
				d.errorf(v, "%s: expected milliseconds in (0, 3600000], got %g", p, b.AbsLatencyMs)
				b.AbsLatencyMs = 0
			}
		},
	}, nil)
}

// allowUnproven refuses a service both allowed to stay unproven and listed under unaffected,
// which must be proven: one of the two statements would be silently dropped.
func (d *decoder) allowUnproven(path string, n ast.Node, b *verdict.ExpectBlast) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		return
	}
	for i, it := range seq.Values {
		if c, ok := scalarText(it); ok && slices.Contains(b.Unaffected, c) {
			d.errorf(it, "%s[%d]: %q is also listed under unaffected, which must be proven: drop one", path, i, c)
		}
	}
}

var abortRE = regexp.MustCompile(`^\s*(\S+)\s+(.+?)\s+for\s+(\S+)\s*$`)

func (d *decoder) aborts(path string, n ast.Node) []Abort {
	items, _ := d.sequence(path, "a list of conditions", n)
	var out []Abort
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", path, i)
		var raw string
		if !d.str(ip, it, &raw) {
			continue
		}
		m := abortRE.FindStringSubmatch(raw)
		if m == nil {
			d.errorf(it, "%s: expected \"STREAM THRESHOLD for DURATION\" such as \"redirect errors>50%% for 5s\", got %q", ip, raw)
			continue
		}
		t, err := verdict.ParseThreshold(m[2])
		if err != nil {
			d.errorf(it, "%s: %v", ip, err)
			continue
		}
		// The live window keeps only these figures; anything else would be judged on another.
		if live := t.Metric == "errors" || t.Metric == "rate" || t.Metric == "goodput" || t.Metric == "p" && t.Percentile == 99 && !t.OK; !live {
			d.errorf(it, "%s: abort conditions watch errors, rate, goodput or p(99), got %q", ip, m[2])
			continue
		}
		dur, err := parsePositiveDuration(m[3])
		if err != nil {
			d.errorf(it, "%s: expected a positive duration after for, got %q", ip, m[3])
			continue
		}
		out = append(out, Abort{Raw: strings.TrimSpace(raw), Stream: m[1], Threshold: t, For: dur})
		out[len(out)-1].pos = posOf(it)
	}
	return out
}
