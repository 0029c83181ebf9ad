// Package reports holds the results model of a scenario run and turns it into verdicts and documents.
package reports

import "time"

// Verdicts a run can end with.
const (
	VerdictPass    = "pass"
	VerdictFail    = "fail"
	VerdictAborted = "aborted"
	VerdictError   = "error"
	// VerdictHalted: someone pressed HALT (console or faultline halt) during the run: the load
	// stopped and the faults were healed early, so the run proves nothing either way.
	VerdictHalted = "halted"
)

// Phases a run is cut into, derived from the fault schedule.
const (
	PhaseBaseline = "baseline" // before the first fault
	PhaseFault    = "fault"    // any fault active
	PhaseBetween  = "between"  // a quiet gap after one fault ended and before the next began
	PhaseRecovery = "recovery" // after the last undo
)

// Results is results.json: everything a run observed and concluded. Field names are a public
// contract (see docs/results.md); add fields, never rename them.
type Results struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	File        string `json:"file,omitempty"`
	Profile     string `json:"profile"`
	// ProfileDigest names the profile's content when the run began (policy.Digest): a
	// tournament --resume reruns a run whose profile file was edited since.
	ProfileDigest   string    `json:"profile_digest,omitempty"`
	Seed            int64     `json:"seed"`
	StartedAt       time.Time `json:"started_at"`
	SetupS          float64   `json:"setup_s"` // links created (and resolved) before the load
	DurationS       float64   `json:"duration_s"`
	Verdict         string    `json:"verdict"`
	ExpectedVerdict string    `json:"expected_verdict"`
	AsExpected      bool      `json:"as_expected"`
	Reasons         []string  `json:"reasons"`
	// Valid is false when the measurement itself cannot be trusted (the load generator fell
	// behind, spans were dropped); such a run never passes.
	Valid          bool             `json:"valid"`
	InvalidReasons []string         `json:"invalid_reasons,omitempty"`
	Phases         []PhaseWindow    `json:"phases"`
	Streams        []StreamResult   `json:"streams"`
	SLOs           []SLOResult      `json:"slos"`
	Faults         []FaultEvent     `json:"faults"`
	DataSafety     *DataSafety      `json:"data_safety,omitempty"`
	ServiceMap     []MapEdge        `json:"service_map,omitempty"`
	BlastRadius    *BlastRadius     `json:"blast_radius,omitempty"`
	Mechanisms     *Mechanisms      `json:"mechanisms,omitempty"`
	Expectations   []Expectation    `json:"expectations"`
	Telemetry      *TelemetryHealth `json:"telemetry,omitempty"`
	Timeseries     []TimeBucket     `json:"timeseries,omitempty"`
	Abort          *Abort           `json:"abort,omitempty"`
	Halt           *Halt            `json:"halt,omitempty"` // a HALT during the run (run --console)
	// Conformance is every policy of the profile in use checked against what the spans show.
	Conformance *Conformance `json:"conformance,omitempty"`
	// DesignBounds is the worst latency the profile allows per stream and the SLO thresholds
	// looser than it: warnings, never part of the verdict.
	DesignBounds *DesignBounds `json:"design_bounds,omitempty"`
	// Notes are what a game day's team wrote down, on the run's clock (game days only).
	Notes []Note `json:"notes,omitempty"`
	// CPUWaits is how long each service's threads waited for a CPU during the load, read
	// from the kernel (process backend only): how saturated the machine was, and what the
	// timing checks allowed for (Conformance).
	CPUWaits []CPUWait `json:"cpu_waits,omitempty"`
}

// CPUWait is what one service's threads waited on the kernel's run queue during the load,
// interval by interval between readings (internal/runqueue): in each, the most any one of
// its threads waited.
type CPUWait struct {
	Service    string  `json:"service"`
	IntervalMs float64 `json:"interval_ms"` // the readings' spacing
	Intervals  int     `json:"intervals"`
	LongestMs  float64 `json:"longest_ms"`
	P99Ms      float64 `json:"p99_ms"`
	// StarvedPct is the share of intervals in which one thread waited the whole interval.
	StarvedPct float64 `json:"starved_pct"`
}

// PhaseWindow is one phase's span of time, in seconds from the run start.
type PhaseWindow struct {
	Name   string  `json:"name"`
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
}

// StreamResult is one load stream, with its figures per phase and for the whole run ("all").
type StreamResult struct {
	Name    string  `json:"name"`
	Request string  `json:"request"`
	Rate    float64 `json:"rate"` // asked, per second (the final rate when it changes)
	// Schedule spells a changing rate (ramp or stages); empty when constant.
	Schedule string        `json:"schedule,omitempty"`
	Phases   []PhaseFigure `json:"phases"`
}

// PhaseFigure is what one stream measured in one phase. Latencies are exact percentiles of the
// raw results in milliseconds.
type PhaseFigure struct {
	Phase        string  `json:"phase"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	AchievedRate float64 `json:"achieved_rate"`
	ErrorRate    float64 `json:"error_rate"` // 0..1
	P50Ms        float64 `json:"p50_ms"`
	P90Ms        float64 `json:"p90_ms"`
	P95Ms        float64 `json:"p95_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	MeanMs       float64 `json:"mean_ms"`
	// OKP50Ms and OKP99Ms are the percentiles of the successful requests only (absent when
	// none succeeded): what a comparison ranks, since a fast failure is no good latency.
	OKP50Ms      *float64       `json:"ok_p50_ms,omitempty"`
	OKP99Ms      *float64       `json:"ok_p99_ms,omitempty"`
	SendLagP99Ms float64        `json:"send_lag_p99_ms"`
	StatusCodes  map[string]int `json:"status_codes,omitempty"`
	ErrorSamples []string       `json:"error_samples,omitempty"`

	// SendWindowS is the wall-clock time the phase's sending took: its length, stretched by
	// how late its last request went out (reports.SendWindow). AchievedRate is Requests ÷
	// SendWindowS, never ÷ the nominal length alone.
	SendWindowS float64 `json:"send_window_s"`
	// AskedRate and AskedRequests are what the stream's schedule asked for in the phase
	// (absent when the schedule is not known, as on a game day).
	AskedRate     float64 `json:"asked_rate,omitempty"`
	AskedRequests float64 `json:"asked_requests,omitempty"`
}

// SLOResult is one threshold of one stream in one phase.
type SLOResult struct {
	Stream    string  `json:"stream"`
	Phase     string  `json:"phase"`
	Threshold string  `json:"threshold"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"` // ms, ratio, per_s
	Pass      bool    `json:"pass"`
	// NoData marks a threshold evaluated on zero requests; it fails, since nothing was proven.
	NoData bool `json:"no_data,omitempty"`
}

// FaultEvent is one fault on the timeline, times in seconds from the run start.
type FaultEvent struct {
	Fault     string            `json:"fault"`  // registered fault name: latency, partition, crash…
	Target    string            `json:"target"` // edge (from->to) or component
	Params    map[string]string `json:"params,omitempty"`
	AppliedAt float64           `json:"applied_at"`
	HealedAt  float64           `json:"healed_at"`
	Error     string            `json:"error,omitempty"`
	// Who injected it, on a game day ("ana (console)"); empty for a scenario's schedule.
	Who string `json:"who,omitempty"`
	// Background faults are part of the environment under test: they do not cut phases, are
	// not shaded on charts and are no origin of a breaker opening.
	Background bool `json:"background,omitempty"`
	// ApplyS is how long the apply took (AppliedAt is when it completed), counted from when it
	// was due, or from when the scheduler got to it if an earlier step held it up. A fault may
	// act as soon as its apply begins (a SIGKILL acts when sent, before the kill returns), so
	// its phase starts at AppliedAt-ApplyS.
	ApplyS float64 `json:"apply_s,omitempty"`
	// Landing says whether the fault visibly touched the calls it should have (from traces).
	// A fault that did not land tested nothing: the run is invalid.
	Landing *Landing `json:"landing,omitempty"`
}

// Landing is the evidence that a fault touched the calls it should have.
type Landing struct {
	Status   string `json:"status"` // LandingLanded, LandingNotLanded or LandingUnchecked
	Evidence string `json:"evidence"`
}

// Landing statuses (reports/traces judges them).
const (
	LandingLanded    = "landed"
	LandingNotLanded = "not_landed"
	LandingUnchecked = "unchecked" // the calls cannot show it; Evidence says why
)

// DataSafety is the invariants checked after the load stopped, against what the load
// generator itself was answered (per code), never against a service's own ledger.
type DataSafety struct {
	LinksAcked      int      `json:"links_acked"`   // creations answered 2xx with a code (setup and load)
	LinksChecked    int      `json:"links_checked"` // of them, looked up afterwards
	LostLinks       int      `json:"lost_links"`    // not found, or found with another URL than the one sent
	LostLinkSamples []string `json:"lost_link_samples,omitempty"`
	// UnverifiedLinks could not be read back at all (5xx, 429 or no answer after retries):
	// neither lost nor safe, so the lost_links line cannot hold.
	UnverifiedLinks       int      `json:"unverified_links,omitempty"`
	UnverifiedLinkSamples []string `json:"unverified_link_samples,omitempty"`
	ClicksAcked           int      `json:"clicks_acked"`   // redirects (302) the client received, setup's warm-up included
	ClicksUnknown         int      `json:"clicks_unknown"` // redirect requests that failed at the client: counted or not, unknown
	ClicksCounted         int      `json:"clicks_counted"` // clicks analytics counted, every code
	MissingClicks         int      `json:"missing_clicks"` // per code, redirects received beyond the count
	// DuplicateClicks is, per code, the count beyond the redirects received and the unknown
	// outcomes; one code's unknowns never excuse another code's surplus.
	DuplicateClicks int      `json:"duplicate_clicks"`
	ClickSamples    []string `json:"click_samples,omitempty"` // up to 10 codes with missing or duplicate clicks
	// Redirect's own click ledger, a diagnostic that explains missing clicks, never the reference.
	DroppedClicks     map[string]int `json:"dropped_clicks"`         // by cause, as the redirect service reported
	LedgerAckedClicks int            `json:"ledger_acked_clicks"`    // clicks redirect says JetStream acknowledged
	LedgerError       string         `json:"ledger_error,omitempty"` // why the ledger could not be read
	// Link events: analytics' link-created events compared with the acknowledged links. An
	// unacknowledged code with an event is fine (the outbox commits the event with the link
	// even when the response was lost), so only acknowledged codes are judged.
	LinkEventsCounted    int      `json:"link_events_counted"`               // events applied for acknowledged codes
	LostLinkEvents       int      `json:"lost_link_events"`                  // acknowledged codes with no event
	DuplicateLinkEvents  int      `json:"duplicate_link_events"`             // events beyond 1 for acknowledged codes
	LostLinkEventSamples []string `json:"lost_link_event_samples,omitempty"` // up to 10 codes
	Settled              bool     `json:"settled"`                           // analytics caught up before the deadline
	// CaughtUpS is when analytics was seen caught up, in seconds after the load ended (the
	// poll that confirmed it: up to 0.5 s after the fact); 0 when it never was.
	CaughtUpS float64 `json:"caught_up_s,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// MapEdge is one caller→callee edge learned from spans.
type MapEdge struct {
	From   string       `json:"from"`
	To     string       `json:"to"`
	Phases []EdgeFigure `json:"phases"`
}

// EdgeFigure is one edge's or service's figures in one phase.
type EdgeFigure struct {
	Phase     string  `json:"phase"`
	Calls     int     `json:"calls"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
}

// BlastRadius says how far the faults spread.
type BlastRadius struct {
	Origins          []string           `json:"origin"`
	Thresholds       BlastThresholds    `json:"thresholds"`
	Services         []ServiceImpact    `json:"services"`
	AffectedServices []string           `json:"affected_services"`
	AffectedEdges    []string           `json:"affected_edges"`
	UserImpact       map[string]float64 `json:"user_impact"` // stream → share of fault-phase requests failed or over the latency SLO
	Propagation      []PropagationPath  `json:"propagation"`
	// UnprovenServices had too few fault-phase calls to be judged: neither affected nor shown
	// unaffected, so an expectation that depends on one fails as no data unless allowed.
	UnprovenServices []string `json:"unproven_services"`
	// LateDeliveries counts the requests, in the phases, that reached a service after their
	// caller had given up (held in the network past a timeout or a hedge's win): left out of
	// every figure above, with everything they called.
	LateDeliveries int `json:"late_deliveries,omitempty"`
}

// BlastThresholds decide when a service or edge counts as affected.
type BlastThresholds struct {
	ErrorRateDelta float64 `json:"error_rate_delta"` // absolute rise of the error rate, 0..1
	LatencyFactor  float64 `json:"latency_factor"`   // p99 fault / p99 baseline
	LatencyMinMs   float64 `json:"latency_min_ms"`   // and at least this many ms more
	// A series whose baseline has fewer than MinBaselineCalls calls is judged on its fault
	// phase alone: affected when its error rate reaches AbsErrorRate or its p99 (p50 below
	// MinBaselineCalls fault calls) reaches AbsLatencyMs. Fewer than MinFaultCalls fault-phase
	// calls: unproven.
	AbsErrorRate     float64 `json:"abs_error_rate"`
	AbsLatencyMs     float64 `json:"abs_latency_ms"`
	MinBaselineCalls int     `json:"min_baseline_calls"`
	MinFaultCalls    int     `json:"min_fault_calls"`
}

// ServiceImpact is one service or edge compared with its baseline.
type ServiceImpact struct {
	Name     string       `json:"name"`
	Kind     string       `json:"kind"` // service | edge
	Affected bool         `json:"affected"`
	Why      string       `json:"why,omitempty"`
	Phases   []EdgeFigure `json:"phases"`
	// Unproven: too few fault-phase calls to judge (Affected is then false and proves
	// nothing). Absolute: the baseline was too short, so the fault phase was judged on the
	// absolute bounds.
	Unproven bool `json:"unproven,omitempty"`
	Absolute bool `json:"absolute,omitempty"`
}

// PropagationPath is a path errors or latency travelled, from the origin towards the entry point.
type PropagationPath struct {
	Path      []string `json:"path"`
	StoppedAt string   `json:"stopped_at,omitempty"` // component where it stopped
	StoppedBy string   `json:"stopped_by,omitempty"` // breaker, fallback, cache, timeout…
	Reached   bool     `json:"reached_entry"`
}

// Mechanisms is what the resilience machinery did.
type Mechanisms struct {
	BreakerTransitions []BreakerTransition `json:"breaker_transitions"`
	Breakers           []BreakerSummary    `json:"breakers"`
	RetriesPerRequest  map[string]float64  `json:"retries_per_request"` // edge → mean retries per call (fault phase)
	// MaxRetriesPerCall is edge → the most retries one call made (fault phase): what
	// expect.mechanisms.max_retries_per_request is judged on, since a mean hides a storm.
	MaxRetriesPerCall map[string]int `json:"max_retries_per_call"`
	// RetryGaps is edge → the observed wait between one call's consecutive attempts (fault
	// phase), from the attempt spans; only edges where some call retried.
	RetryGaps          map[string]RetryGap `json:"retry_gaps,omitempty"`
	Retries            map[string]int      `json:"retries"`
	BulkheadRejections map[string]int      `json:"bulkhead_rejections"`
	Fallbacks          map[string]int      `json:"fallbacks"`
	Timeouts           map[string]int      `json:"timeouts"`
	RateLimited        map[string]int      `json:"rate_limited"`
	CacheHitRatio      map[string]float64  `json:"cache_hit_ratio"` // phase → ratio
	// The adaptive policies, per edge, from the pipeline spans (docs/results.md): calls the
	// adaptive limiter refused, calls the throttler refused, calls whose retry or hedge the
	// budget refused, hedges sent.
	LimiterRejections map[string]int `json:"limiter_rejections,omitempty"`
	Throttled         map[string]int `json:"throttled,omitempty"`
	BudgetExceeded    map[string]int `json:"budget_exceeded,omitempty"`
	Hedges            map[string]int `json:"hedges,omitempty"`
	// FaultAttempts is edge → attempts made on it in the fault phase (first tries, retries
	// and hedges), from the attempt spans: divided by the client's fault-phase requests it
	// is the edge's retry amplification.
	FaultAttempts map[string]int `json:"fault_attempts,omitempty"`
}

// RetryGap is how long calls on an edge waited between a failed attempt's end and the next
// attempt's start: a backoff shows here, a retry storm shows as ~0.
type RetryGap struct {
	Gaps     int     `json:"gaps"` // consecutive attempt pairs measured
	MinMs    float64 `json:"min_ms"`
	MedianMs float64 `json:"median_ms"`
}

// BreakerTransition is one state change, at seconds from the run start.
type BreakerTransition struct {
	Service string  `json:"service"`
	Edge    string  `json:"edge"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	AtS     float64 `json:"at_s"`
}

// BreakerSummary times a breaker against the fault on its edge.
type BreakerSummary struct {
	Edge         string   `json:"edge"`
	Opened       bool     `json:"opened"`
	OpenAfterS   *float64 `json:"open_after_s,omitempty"`   // from fault start to first open
	ClosedAfterS *float64 `json:"closed_after_s,omitempty"` // from heal to closed
}

// Expectation is one line of the scenario's expect block, judged.
type Expectation struct {
	What     string `json:"what"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	Pass     bool   `json:"pass"`
	// NoData marks a failure because there was nothing to judge (no spans, no such breaker):
	// it fails the run, but proves nothing about behaviour (faultline mutate credits no kill
	// to it: removing a breaker trivially leaves no breaker to observe).
	NoData bool `json:"no_data,omitempty"`
	// NotApplicable marks a line with nothing to check (no acknowledged link, no redirect
	// received): Pass is true so it fails nothing, but it is no held check and the verdict's
	// summary does not count it.
	NotApplicable bool `json:"not_applicable,omitempty"`
}

// TelemetryHealth counts what the observation itself lost.
type TelemetryHealth struct {
	SpansReceived     int      `json:"spans_received"`
	SpansRejected     int      `json:"spans_rejected"`
	SpansDroppedByLab int      `json:"spans_dropped_by_lab"`
	SpansDroppedBySDK int      `json:"spans_dropped_by_sdk"`
	Notes             []string `json:"notes,omitempty"`
	// ExportsRefused counts export requests the receiver refused: their spans are missing.
	ExportsRefused int `json:"export_requests_refused,omitempty"`
	// SDKLossUnknown names the services with processes that left no count of their lost
	// spans (killed before their final flush): unknown, not 0.
	SDKLossUnknown []UnknownSpanLoss `json:"sdk_loss_unknown,omitempty"`
}

// UnknownSpanLoss is one service whose span loss the lab could not read.
type UnknownSpanLoss struct {
	Service   string `json:"service"`
	Processes int    `json:"processes"` // how many of its processes left no count
	// Expected: the scenario's own crash or restart faults killed at least that many, so the
	// missing spans are the killed processes' own; it does not invalidate the run.
	Expected bool   `json:"expected"`
	Why      string `json:"why"`
}

// TimeBucket is one second of one stream, for charts.
type TimeBucket struct {
	Stream   string  `json:"stream"`
	T        float64 `json:"t"` // seconds from start
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// Abort tells why and when a run was stopped early.
type Abort struct {
	Condition string  `json:"condition"`
	AtS       float64 `json:"at_s"`
	HealedInS float64 `json:"healed_in_s"`
}

// Halt tells who halted a run, when, and how long healing took.
type Halt struct {
	By        string  `json:"by"`
	AtS       float64 `json:"at_s"`
	HealedInS float64 `json:"healed_in_s"`
}

// Conformance statuses: a check with data passes or fails; one with nothing to check (the
// policy never came into play) is no_data, which neither passes nor fails the run; one the
// scenario switched off is skipped, with its reason.
const (
	ConformancePass    = "pass"
	ConformanceFail    = "fail"
	ConformanceNoData  = "no_data"
	ConformanceSkipped = "skipped"
)

// Conformance checks that the system applies each policy of its profile as configured, per
// edge and route, from the spans of the run. A failed check fails the run.
type Conformance struct {
	Profile string `json:"profile"`
	// Tolerances are the slacks the checks allow for measurement, stated once.
	Tolerances []string           `json:"tolerances"`
	Checks     []ConformanceCheck `json:"checks"`
	Failed     int                `json:"failed"`
	Passed     int                `json:"passed"`
	NoData     int                `json:"no_data"`
	Skipped    int                `json:"skipped"`
}

// ConformanceCheck is one policy of one edge or route, judged.
type ConformanceCheck struct {
	Target     string `json:"target"` // edge (redirect->link) or route (route:redirect)
	Policy     string `json:"policy"` // timeout, retry.attempts, circuit_breaker.opens, rate_limit…
	Configured string `json:"configured"`
	Observed   string `json:"observed"`
	Status     string `json:"status"`  // pass | fail | no_data | skipped
	Samples    int    `json:"samples"` // observations the check rests on (attempts, calls, gaps…)
	Violations int    `json:"violations,omitempty"`
	// Examples point at violations: trace ids and times from the run start.
	Examples []string `json:"examples,omitempty"`
	// Reason says why a check was skipped (the scenario's words) or has no data.
	Reason string `json:"reason,omitempty"`
}

// Note is one time-stamped note of a game day.
type Note struct {
	AtS  float64 `json:"at_s"` // seconds from the run start
	Who  string  `json:"who,omitempty"`
	Text string  `json:"text"`
}
