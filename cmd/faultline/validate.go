package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios"
)

func init() { commands = append(commands, newValidateCmd) }

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check scenario files strictly, reporting every problem as FILE:LINE:COL",
		Long: `Parse and validate scenario files without running anything: unknown keys, wrong types,
unknown edges, components and faults, bad fault parameters, overlapping faults on one target,
faults outside the duration, unparsable thresholds and references to unknown streams are all
reported, each as FILE:LINE:COL: what was expected. A directory means its *.yaml and *.yml files.

Prints "ok FILE" for each valid file. Exit code 2 when any file is invalid.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := scenarioFiles(args)
			if err != nil {
				return usageError{err}
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			bad := 0
			for _, f := range files {
				if _, err := scenarios.ParseFile(f); err != nil {
					bad++
					fmt.Fprintln(errOut, err)
					continue
				}
				fmt.Fprintln(out, "ok", f)
			}
			if bad > 0 {
				return usageError{fmt.Errorf("validate: %d of %d files invalid", bad, len(files))}
			}
			return nil
		},
	}
}

// scenarioFiles expands directories into their scenario files, sorted.
func scenarioFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(a, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, errors.New("validate: no *.yaml or *.yml files in " + a)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}
