package gateway

import (
	"testing"

	"github.com/faultline/faultline/system/internal/systemtest"
)

func TestRunRefusesBadUsage(t *testing.T) {
	systemtest.RefusesUsage(t, Run, systemtest.UsageCases{
		{"missing urls", nil, map[string]string{}},
		{"bad url", []string{"--redirect-url", "ftp://x", "--link-url", "http://a:1", "--analytics-url", "http://b:2"}, map[string]string{}},
		{"unknown profile", nil, map[string]string{"REDIRECT_URL": "http://a:1", "LINK_URL": "http://a:2", "ANALYTICS_URL": "http://a:3", "RESILIENCE_PROFILE": "nosuch"}},
		{"bad log format", nil, map[string]string{"REDIRECT_URL": "http://a:1", "LINK_URL": "http://a:2", "ANALYTICS_URL": "http://a:3", "LOG_FORMAT": "xml"}},
		{"positional argument", []string{"extra"}, map[string]string{}},
	})
}

func TestRunHelp(t *testing.T) { systemtest.Help(t, Run) }
