package analytics

import (
	"testing"

	"github.com/faultline/faultline/system/internal/systemtest"
)

func TestRunRefusesBadUsage(t *testing.T) {
	systemtest.RefusesUsage(t, Run, systemtest.UsageCases{
		{"missing database", nil, map[string]string{"NATS_URL": "nats://a:2"}},
		{"missing nats", nil, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/db"}},
		{"unknown flag", []string{"--nope"}, map[string]string{}},
		{"unknown profile", nil, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/db", "NATS_URL": "nats://a:2", "RESILIENCE_PROFILE": "nosuch"}},
	})
}

func TestRunHelp(t *testing.T) { systemtest.Help(t, Run) }
