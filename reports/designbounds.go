package reports

// DesignBounds is, for each load stream, the worst latency the run's resilience profile allows
// on the gateway route the stream reaches (scenarios/bounds; docs/scenario-format.md "Design
// bounds"), and the SLO thresholds looser than it, which slowness alone cannot fail.
type DesignBounds struct {
	Profile string `json:"profile"`
	// Error says why nothing could be derived (the profile could not be read).
	Error   string        `json:"error,omitempty"`
	Streams []StreamBound `json:"streams"`
	// Warnings name each threshold looser than its stream's bound, as slos[i].thresholds[j].
	Warnings []string `json:"warnings"`
}

// StreamBound is one stream's bound.
type StreamBound struct {
	Stream string `json:"stream"`
	Route  string `json:"route,omitempty"` // gateway route; "" when the request reaches none
	// WorstMs is the design's worst case on the route; null when the design bounds nothing.
	WorstMs *float64 `json:"worst_ms"`
	// LimitMs is the longest any answer can be measured (the design's worst case, else the
	// load generator's timeout), LimitBy says which, ToleranceMs the scheduling slack above it.
	LimitMs     float64  `json:"limit_ms"`
	LimitBy     string   `json:"limit_by"`
	ToleranceMs float64  `json:"tolerance_ms"`
	Derivation  []string `json:"derivation,omitempty"` // the chain, one step a line, parts indented
}

// writeDesignBounds writes summary.md's design bounds: one line per stream, then the warnings.
func writeDesignBounds(p func(string, ...any), d *DesignBounds) {
	if d == nil {
		return
	}
	p("## Design bounds\n\nWorst latency profile `%s` allows per stream (a threshold above it cannot fail by slowness alone):\n\n", d.Profile)
	if d.Error != "" {
		p("- not derived: %s\n", d.Error)
	}
	for _, s := range d.Streams {
		p("- %s: at most %s ms (+%s ms tolerance): %s\n", s.Stream, num(s.LimitMs, 1), num(s.ToleranceMs, 1), s.LimitBy)
	}
	for _, w := range d.Warnings {
		p("- **warning**: %s\n", w)
	}
	p("\n")
}
