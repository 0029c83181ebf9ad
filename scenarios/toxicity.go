package scenarios

// checkToxicity refuses a network fault's toxicity below 1 in a scenario. Toxiproxy's
// toxicity picks whole connections when they meet the toxic, and the services' keep-alive
// pools keep the same few connections for the whole fault: "toxicity 0.2" slows all calls
// or none for seconds at a time, and may land on no call at all (the first
// slow-tail draft slowed no call). A scenario's verdict would rest on luck, so a share of
// requests is said with the request-level faults, whose share is exact and seeded.
// (toxicity 0 and values above 1 are the registry's errors.)
func (d *decoder) checkToxicity(path string, f *Fault) {
	v, ok := f.paramVals["toxicity"]
	if !ok {
		return
	}
	var x float64
	switch n := v.(type) {
	case float64:
		x = n
	case uint64:
		x = float64(n)
	case int64:
		x = float64(n)
	default:
		return // not a number: the registry's decoder says so
	}
	if x > 0 && x < 1 {
		d.errs.add(d.file, f.paramPos["toxicity"], "%s: toxicity %v: a share of connections, not of requests: Toxiproxy picks whole "+
			"connections and keep-alive pools reuse the same ones, so the fault may land on every call or on none; "+
			"for a share of requests use http_error, http_latency or http_reset with share (exact and seeded); "+
			"a scenario takes toxicity 1 or leaves it out", path, v)
	}
}
