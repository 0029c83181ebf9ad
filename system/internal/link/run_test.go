package link

import (
	"testing"

	"github.com/faultline/faultline/system/internal/systemtest"
)

func TestRunRefusesBadUsage(t *testing.T) {
	db := map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/db"}
	systemtest.RefusesUsage(t, Run, systemtest.UsageCases{
		{"missing database", nil, map[string]string{}},
		{"unknown flag", []string{"--nope"}, db},
		{"positional argument", []string{"extra"}, db},
		{"unknown profile", []string{"--profile", "nosuch"}, db},
		{"bad log format", []string{"--log-format", "xml"}, db},
	})
}

func TestRunHelp(t *testing.T) { systemtest.Help(t, Run) }
