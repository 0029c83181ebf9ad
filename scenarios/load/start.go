package load

import (
	"context"
	"os"
	"strings"
	"time"
)

// SendFunc runs a prepared load until its streams end or ctx is cancelled: onSend (when set)
// is told of each send, sink gets each result, one at a time.
type SendFunc func(ctx context.Context, onSend func(Sent), sink func(Result)) error

// Start prepares a load: from a generator process of its own when bin (a faultline binary,
// see GeneratorBinary) is given — started now and ready, so its start-up is spent before the
// caller's clock — else from this process. stop ends the process; call it once the load is
// done. Why a process of its own: docs/results.md "Where the load is sent from".
func Start(ctx context.Context, bin, target string, streams []Stream, d time.Duration, opts Options) (send SendFunc, stop func(), err error) {
	if bin == "" {
		return func(ctx context.Context, onSend func(Sent), sink func(Result)) error {
			o := opts
			o.OnSend = onSend
			return Run(ctx, target, streams, d, o, sink)
		}, func() {}, nil
	}
	p, err := StartProcess(ctx, bin, target, streams, d, opts)
	if err != nil {
		return nil, nil, err
	}
	return p.Run, p.Close, nil
}

// GeneratorBinary is the faultline binary to run the load generator's process from: bin when
// given, else this executable when it is faultline. A test binary re-executed would run its
// tests, so under `go test` without a binary the load stays in this process ("").
func GeneratorBinary(bin string) string {
	if bin != "" {
		return bin
	}
	exe, err := os.Executable()
	if err != nil || strings.HasSuffix(exe, ".test") {
		return ""
	}
	return exe
}
