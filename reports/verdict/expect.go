package verdict

import (
	"time"

	"github.com/faultline/faultline/reports/conformance"
)

// Expect is a scenario's expect: what its author expects the run to show. The scenario parser
// fills it; the judges read it as parsed.
type Expect struct {
	Verdict     string             `json:"verdict" yaml:"verdict"` // pass | fail
	BlastRadius *ExpectBlast       `json:"blast_radius,omitempty" yaml:"blast_radius,omitempty"`
	Mechanisms  *ExpectMechanisms  `json:"mechanisms,omitempty" yaml:"mechanisms,omitempty"`
	Data        *ExpectData        `json:"data,omitempty" yaml:"data,omitempty"`
	Conformance *ExpectConformance `json:"conformance,omitempty" yaml:"conformance,omitempty"`
}

// NeedsTraces says whether the expectations are judged from spans.
func (e Expect) NeedsTraces() bool { return e.BlastRadius != nil || e.Mechanisms != nil }

// ExpectBlast bounds how far the faults may spread.
type ExpectBlast struct {
	// ContainedTo lists the services allowed to be affected (besides the origins).
	ContainedTo []string `json:"contained_to,omitempty" yaml:"contained_to,omitempty"`
	// Unaffected lists services (or edges, from->to) that must be measured and not affected.
	Unaffected []string `json:"unaffected,omitempty" yaml:"unaffected,omitempty"`
	// UserImpact bounds the share of failed or too slow fault-phase requests per load stream.
	UserImpact map[string]Bound `json:"user_impact,omitempty" yaml:"user_impact,omitempty"`
	// MaxAffectedServices bounds the affected services, origins not counted.
	MaxAffectedServices *int `json:"max_affected_services,omitempty" yaml:"max_affected_services,omitempty"`
	// AllowUnproven names services that may stay unproven (too few fault-phase calls to judge,
	// e.g. a store only the crashed origin calls) without failing ContainedTo or
	// MaxAffectedServices as no data; a service listed in Unaffected must be proven all the same.
	AllowUnproven []string `json:"allow_unproven,omitempty" yaml:"allow_unproven,omitempty"`
}

// ExpectMechanisms is what the resilience machinery should have done.
type ExpectMechanisms struct {
	// Breakers lists the breakers that must open (and close) in time.
	Breakers []ExpectBreaker `json:"breakers,omitempty" yaml:"breakers,omitempty"`
	// MaxRetriesPerRequest bounds the retries any single call on an edge made during the fault
	// (not the mean: one call retrying ten times hides among a thousand that did not).
	MaxRetriesPerRequest map[string]float64 `json:"max_retries_per_request,omitempty" yaml:"max_retries_per_request,omitempty"`
}

// ExpectBreaker is a breaker that must open within OpensWithin of its fault's start and close
// within ClosesWithin of the heal (a zero duration leaves that side unchecked, but the breaker
// must still have opened).
type ExpectBreaker struct {
	Edge         string        `json:"edge" yaml:"edge"`
	OpensWithin  time.Duration `json:"opens_within,omitempty" yaml:"opens_within,omitempty"`
	ClosesWithin time.Duration `json:"closes_within,omitempty" yaml:"closes_within,omitempty"`
}

// ExpectData bounds the data-safety counters; nil means 0 (every counter is judged: losing
// acknowledged data is never acceptable by default).
type ExpectData struct {
	LostLinks       *int `json:"lost_links,omitempty" yaml:"lost_links,omitempty"`
	DuplicateClicks *int `json:"duplicate_clicks,omitempty" yaml:"duplicate_clicks,omitempty"`
	MissingClicks   *int `json:"missing_clicks,omitempty" yaml:"missing_clicks,omitempty"`
	// Link events: acknowledged links analytics never got a link-created event for, and
	// events applied beyond one per acknowledged link.
	LostLinkEvents      *int `json:"lost_link_events,omitempty" yaml:"lost_link_events,omitempty"`
	DuplicateLinkEvents *int `json:"duplicate_link_events,omitempty" yaml:"duplicate_link_events,omitempty"`
	// CaughtUpWithin bounds how long after the load's end analytics may take to count every
	// acknowledged click and link event (0: not judged; the counts are judged either way).
	CaughtUpWithin time.Duration `json:"caught_up_within,omitempty" yaml:"caught_up_within,omitempty"`
}

// ExpectConformance tunes the policy conformance check every run makes (reports/conformance):
// a check may only be switched off with a reason, which the report shows.
type ExpectConformance struct {
	Skip []conformance.Skip `json:"skip,omitempty" yaml:"skip,omitempty"`
}

// Skips are the checks switched off; none for a nil c.
func (c *ExpectConformance) Skips() []conformance.Skip {
	if c == nil {
		return nil
	}
	return c.Skip
}
