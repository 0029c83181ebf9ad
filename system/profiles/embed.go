// Package profiles embeds the built-in resilience profiles (one YAML file each).
package profiles

import "embed"

// FS holds the built-in profiles, named NAME.yaml.
//
//go:embed *.yaml
var FS embed.FS
