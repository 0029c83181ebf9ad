package compose

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestImagesAreVariablesWithUpstreamDefaults: every image of docker-compose.yml is chosen by a
// variable whose default is the upstream image users pull (or the project's own build), so
// offline stand-ins replace them without an edit; and every stand-in that
// scripts/docker-images.sh builds is tagged under the project's name, never an upstream one.
func TestImagesAreVariablesWithUpstreamDefaults(t *testing.T) {
	yml, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	image := regexp.MustCompile(`(?m)^\s+image:\s*(\S+)\s*$`)
	variable := regexp.MustCompile(`^\$\{([A-Z_]+_IMAGE):-([^}]+)\}$`)
	matches := image.FindAllStringSubmatch(string(yml), -1)
	if len(matches) < 8 {
		t.Fatalf("%d image lines in %s", len(matches), composeFile)
	}
	for _, m := range matches {
		v := variable.FindStringSubmatch(m[1])
		if v == nil {
			t.Errorf("image %s is not ${NAME_IMAGE:-upstream}", m[1])
			continue
		}
		if def := v[2]; strings.Contains(def, "offline") || (strings.HasPrefix(def, "faultline") && v[1] != "FAULTLINE_IMAGE") {
			t.Errorf("%s defaults to %s: the default must stay the upstream image", v[1], def)
		}
	}

	script, err := os.ReadFile("../../scripts/docker-images.sh")
	if err != nil {
		t.Fatal(err)
	}
	tag := regexp.MustCompile(`(?m)^(?:standin |\s*build -t |[A-Z]+_IMAGE=|base=)([^"\s]\S*)`)
	tags := tag.FindAllStringSubmatch(string(script), -1)
	if len(tags) < 8 {
		t.Fatalf("found %d stand-in tags in scripts/docker-images.sh", len(tags))
	}
	for _, m := range tags {
		if name := m[1]; !strings.HasPrefix(name, "faultline/") && name != "faultline:local" {
			t.Errorf("scripts/docker-images.sh tags %s: stand-ins are named faultline/..., never after an upstream image", name)
		}
	}
}
