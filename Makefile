# Faultline — every target installs what it needs first (make deps).
SHELL := /bin/bash
GO ?= go
BIN := bin/faultline
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the lab and the tests need: real servers, never fakes.
DEBS := postgresql redis-server chromium prometheus

# Go test packages that run two at a time (make test): they start no real system and assert
# no latency, timeout or send lag, so a neighbour on the other core cannot change their
# outcome (reports/html/browsertest drives Chromium, with no time limit under a minute).
# Every other package runs alone, the default for a package not listed: it starts PostgreSQL,
# Redis, NATS, the lab or Docker (lab, lab/*, scenarios/runner, scenarios/explore/run,
# dashboards, system/internal/*), or times something on the wall clock (scenarios/load's send
# lag, toxics' latencies, internal/cpulimit's duty cycle). Only sub-second packages are here:
# the Go tests' time is in the real-system packages, which stay alone. internal/testbin's
# TestParallelPackagesStartNoSystem refuses a package here whose tests start the system.
GO_TEST_PARALLEL := ./cmd/faultline ./internal/atomicfile ./internal/percentile ./lab/ledger \
	./reports ./reports/charts ./reports/compare ./reports/conformance ./reports/explore \
	./reports/html ./reports/html/browsertest ./reports/rundir ./reports/tournament \
	./reports/traces ./reports/verdict ./scenarios ./scenarios/bounds ./scenarios/explore \
	./scenarios/gameday ./scenarios/mutate ./system ./system/topology ./system/internal/config \
	./system/internal/shortcode

.PHONY: deps build test test-short demo catalogue verdict-power code-power bench fuzz clean explore-power docker-test tournament

deps: ## install PostgreSQL, Redis and Chromium with apt-get when missing; download Go modules
	@scripts/deps.sh $(DEBS)
	@$(GO) mod download

build: ## build the one binary
	$(GO) build -o $(BIN) ./cmd/faultline

test: deps build ## everything CI runs: unit, integration (real servers), the scenario catalogue and its negative controls, the Docker paths
	$(GO) vet ./...
	@# Every test binary built once, all in parallel; then the packages of GO_TEST_PARALLEL run two
	@# at a time and every other one alone: the integration tests measure latency on real servers
	@# and must not share 2 cores with each other (scripts/gotest.sh: why not go test -p 1).
	GO="$(GO)" GO_TEST_PARALLEL="$(GO_TEST_PARALLEL)" FAULTLINE_BIN=$(CURDIR)/$(BIN) scripts/gotest.sh -timeout 30m ./...
	@# The whole catalogue with its own profiles, and each mutant once, on the shortest scenario
	@# that must catch it (make verdict-power runs every listed control).
	$(BIN) mutate --cover --plain --out runs/ci-catalogue scenarios/
	@# The Docker paths last, alone: nothing else builds or runs beside their latency checks.
	FAULTLINE_BIN=$(CURDIR)/$(BIN) scripts/docker-test.sh

docker-test: build ## the Docker paths for real: installs Docker, starts (and stops) dockerd, builds the images offline if need be, runs compose and containers
	FAULTLINE_BIN=$(CURDIR)/$(BIN) scripts/docker-test.sh

test-short: ## unit tests only, no servers
	$(GO) test -short -count=1 ./...

demo: deps build ## run the smoke scenario end to end and write its report under runs/
	$(BIN) run scenarios/smoke.yaml

catalogue: deps build ## run every scenario of the catalogue
	$(BIN) run scenarios/

verdict-power: deps build ## run each scenario against every mutant it lists (the full kill matrix)
	$(BIN) mutate --out runs/verdict-power scenarios/

code-power: deps build ## every code mutant, 3 times, on the shortest scenario listing it (about 50 min)
	$(BIN) mutate --only-code --cover --repeat 3 --out runs/code-power scenarios/

explore-power: deps build ## every protection mutant: the weak spot the explorer finds that its base profile lacks, or MISSED and why (a table; make test runs the short TestExplorePower)
	EXPLORE_POWER_ALL=1 FAULTLINE_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m -v -run 'TestExplorePowerAll$$' ./scenarios/explore/run/

bench: deps build ## benchmarks recorded in BENCHMARKS.md
	$(GO) test -run '^$$' -bench . -benchtime 1x ./lab/... ./lab/otlp/... ./scenarios/load/...

tournament: deps build ## which policy wins which failure mode: default, adaptive and hedged ranked on the adaptive-policy scenarios (docs/policy-choice.md; about 15 min)
	$(BIN) tournament --profiles default,adaptive,hedged --repeat 2 --out runs/tournament scenarios/slow-tail.yaml scenarios/surge-adaptive.yaml scenarios/brownout.yaml scenarios/retry-budget.yaml

fuzz: ## a short fuzz pass over every parser and handler
	@scripts/fuzz.sh 10s

clean:
	rm -rf bin runs
