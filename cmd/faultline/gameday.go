package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios/gameday"
)

func init() { commands = append(commands, newGamedayCmd) }

func newGamedayCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "gameday",
		Short: "Turn a recorded game day into a scenario CI can replay",
		Long: `A game day is run with 'faultline up --console': the team drives load, injects faults and
writes notes in the console, and the day is recorded into a run directory ('faultline report
DIR' renders it). 'faultline gameday export DIR' then writes the scenario that replays it.`,
	}
	c.AddCommand(&cobra.Command{
		Use:   "export RUN_DIR",
		Short: "Write a scenario (YAML, on stdout) that replays a game day's load, faults and SLOs",
		Long: `Write to stdout a scenario that replays the game day recorded in RUN_DIR (its gameday.json):
the load streams with their rate changes (as stages; 0/s where a stream was stopped), every
fault at the time it was applied for as long as it lasted, and the SLOs the team set. The
replay starts when the first stream started. Faults that overlapped on one target (a scenario
allows one at a time) or lay outside the load are left out, each with a comment; notes become
comments. Typical use:

  faultline gameday export runs/gameday-20261202-0930 > scenarios/my-gameday.yaml
  faultline validate scenarios/my-gameday.yaml && faultline run scenarios/my-gameday.yaml

Exit codes: 0 written, 2 RUN_DIR is not a game day or it cannot be replayed (no load, longer
than a scenario may last).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := gameday.ReadRecord(args[0])
			if err != nil {
				return usageError{fmt.Errorf("gameday export: %w", err)}
			}
			b, err := gameday.Export(rec)
			if err != nil {
				return usageError{fmt.Errorf("gameday export: %w", err)}
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	})
	return c
}
