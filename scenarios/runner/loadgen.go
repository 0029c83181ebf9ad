package runner

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios/load"
)

// sendFunc runs a prepared load until its streams end or ctx is cancelled: onSend (when set)
// is told of each send, sink gets each result, one at a time.
type sendFunc func(ctx context.Context, onSend func(load.Sent), sink func(load.Result)) error

// startLoad prepares a load: from a generator process of its own when bin (a faultline
// binary) is given — started now and ready, so its start-up is spent before the caller's
// clock — else from this process. stop ends the process; call it once the load is done.
// Why a process of its own: docs/results.md "Where the load is sent from".
func startLoad(ctx context.Context, bin, target string, streams []load.Stream, d time.Duration, opts load.Options) (send sendFunc, stop func(), err error) {
	if bin == "" {
		return func(ctx context.Context, onSend func(load.Sent), sink func(load.Result)) error {
			o := opts
			o.OnSend = onSend
			return load.Run(ctx, target, streams, d, o, sink)
		}, func() {}, nil
	}
	p, err := load.StartProcess(ctx, bin, target, streams, d, opts)
	if err != nil {
		return nil, nil, err
	}
	return p.Run, p.Close, nil
}

// generatorBinary is the faultline binary to run the load generator's process from: bin
// (Options.Binary), else this executable when it is faultline. A test binary re-executed
// would run its tests, so under `go test` without a binary the load stays in this process.
func generatorBinary(bin string) string {
	if bin != "" {
		return bin
	}
	exe, err := os.Executable()
	if err != nil || strings.HasSuffix(exe, ".test") {
		return ""
	}
	return exe
}
