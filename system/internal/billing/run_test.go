package billing

import (
	"testing"

	"github.com/faultline/faultline/system/internal/systemtest"
)

// Every case is refused before the SQLite file is opened.
func TestRunRefusesBadUsage(t *testing.T) {
	systemtest.RefusesUsage(t, Run, systemtest.UsageCases{
		{"unknown flag", []string{"--nope"}, nil},
		{"positional argument", []string{"extra"}, nil},
		{"unknown profile", nil, map[string]string{"RESILIENCE_PROFILE": "nosuch"}},
		{"bad log format", nil, map[string]string{"LOG_FORMAT": "xml"}},
	})
}

func TestRunHelp(t *testing.T) { systemtest.Help(t, Run) }
