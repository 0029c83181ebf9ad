package console

import (
	"context"

	"github.com/faultline/faultline/lab"
	"github.com/faultline/faultline/reports/traces"
	"github.com/faultline/faultline/scenarios/gameday"
)

// ForLab starts a console on a running lab: its ledger and token, its components' states; spans from the lab's OTLP receiver; sess drives the load (nil: none).
func ForLab(l *lab.Lab, sess *gameday.Session, spans func() []traces.Span, addr string) (*Server, error) {
	o := labOptions(l, addr)
	o.Session, o.Spans = sess, spans
	return Start(o)
}

// labOptions are a console's options from its lab: token, ledger, states.
func labOptions(l *lab.Lab, addr string) Options {
	return Options{
		Addr: addr, Token: l.Token(), Ledger: l.Ledger(),
		Status: func(ctx context.Context) map[string]string {
			out := map[string]string{}
			for _, c := range l.Status(ctx).Components {
				out[c.Name] = c.State
			}
			return out
		},
	}
}
