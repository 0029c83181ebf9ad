package redirect

import (
	"testing"

	"github.com/faultline/faultline/system/internal/systemtest"
)

func TestRunRefusesBadUsage(t *testing.T) {
	systemtest.RefusesUsage(t, Run, systemtest.UsageCases{
		{"missing redis", nil, map[string]string{"LINK_URL": "http://a:1", "NATS_URL": "nats://a:2"}},
		{"bad redis addr", []string{"--redis-addr", "nohost"}, map[string]string{"LINK_URL": "http://a:1", "NATS_URL": "nats://a:2"}},
		{"zero click buffer", nil, map[string]string{"REDIS_ADDR": "127.0.0.1:1", "LINK_URL": "http://a:1", "NATS_URL": "nats://a:2", "CLICK_BUFFER": "0"}},
		{"non-numeric click buffer", nil, map[string]string{"REDIS_ADDR": "127.0.0.1:1", "LINK_URL": "http://a:1", "NATS_URL": "nats://a:2", "CLICK_BUFFER": "many"}},
		{"unknown profile", nil, map[string]string{"REDIS_ADDR": "127.0.0.1:1", "LINK_URL": "http://a:1", "NATS_URL": "nats://a:2", "RESILIENCE_PROFILE": "nosuch"}},
	})
}

func TestRunHelp(t *testing.T) { systemtest.Help(t, Run) }
