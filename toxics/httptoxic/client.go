package httptoxic

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Add puts one request-level fault named name on a proxy through the Toxiproxy API, in the
// order the pairing needs (package doc): for http_error and http_reset the responses half,
// then the requests half, then arming (http_arm, added and removed); for http_latency the requests half alone. It returns
// the toxic names added in the order to remove them (requests half first). On an error it
// removes what it added.
func Add(p *toxiclient.Proxy, typ, name string, a Attrs) ([]string, error) {
	a.Pair = ""
	paired := typ == TypeError || typ == TypeReset
	if paired {
		a.Pair = name
	}
	if err := validateFor(typ, a); err != nil {
		return nil, err
	}
	var added []string
	fail := func(err error) ([]string, error) {
		return nil, errors.Join(err, Remove(p, added))
	}
	if paired {
		resp := a
		resp.Role = RoleResponses
		if _, err := p.AddToxic(name+"-"+RoleResponses, typ, "downstream", 1, attrs(resp)); err != nil {
			return fail(fmt.Errorf("httptoxic: add %s: %w", name, err))
		}
		added = append(added, name+"-"+RoleResponses)
	}
	req := a
	req.Role = RoleRequests
	if _, err := p.AddToxic(name+"-"+RoleRequests, typ, "upstream", 1, attrs(req)); err != nil {
		return fail(fmt.Errorf("httptoxic: add %s: %w", name, err))
	}
	added = append([]string{name + "-" + RoleRequests}, added...)
	if paired {
		arm := name + "-arm"
		if _, err := p.AddToxic(arm, TypeArm, "upstream", 1, toxiclient.Attributes{"pair": name}); err != nil {
			return fail(fmt.Errorf("httptoxic: arm %s: %w", name, err))
		}
		if err := Remove(p, []string{arm}); err != nil {
			return fail(err)
		}
	}
	return added, nil
}

// Remove removes toxics by name in order; one already gone is not an error.
func Remove(p *toxiclient.Proxy, names []string) error {
	var errs []error
	for _, n := range names {
		if err := p.RemoveToxic(n); err != nil {
			var ae *toxiclient.ApiError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				continue
			}
			errs = append(errs, fmt.Errorf("httptoxic: remove %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// Stats reads the counters of the fault Add added as name (the two halves of a pair share
// theirs, so the requests half's are the pair's).
func Stats(p *toxiclient.Proxy, name string) (Counters, error) {
	list, err := p.Toxics()
	if err != nil {
		return Counters{}, fmt.Errorf("httptoxic: stats %s: %w", name, err)
	}
	for _, t := range list {
		if t.Name != name+"-"+RoleRequests {
			continue
		}
		b, err := json.Marshal(t.Attributes["counters"])
		if err != nil {
			return Counters{}, fmt.Errorf("httptoxic: stats %s: %w", name, err)
		}
		var c Counters
		if err := json.Unmarshal(b, &c); err != nil {
			return Counters{}, fmt.Errorf("httptoxic: stats %s: %w", name, err)
		}
		return c, nil
	}
	return Counters{}, fmt.Errorf("httptoxic: stats %s: no such toxic", name)
}

func validateFor(typ string, a Attrs) error {
	a.Role = RoleRequests
	return a.Validate(typ)
}

func attrs(a Attrs) toxiclient.Attributes {
	b, _ := json.Marshal(a)
	var m toxiclient.Attributes
	_ = json.Unmarshal(b, &m)
	return m
}
