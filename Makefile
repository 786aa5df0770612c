# kvbench — see README.md.
GO      ?= go
BIN     := bin/kvbench
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/kvbench/kvbench/results.stamped=$(VERSION)
# staticcheck is installed by .ci/run: go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build demo test test-short race bench bench-micro fuzz probe clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kvbench

# The main job: a quick sweep over every bundled store, then the report.
demo: build
	rm -rf runs/demo
	$(BIN) scenario run scenarios/quick.yaml --out runs/demo
	$(BIN) report runs/demo -o report.md
	@echo "wrote report.md"

# Everything CI runs: vet, go.mod tidy, staticcheck, every test (integration tests start real
# servers, memcached and memccapable when installed), then the short suite
# under the race detector.
test:
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(STATICCHECK) ./...
	$(GO) test -count=1 -timeout 12m ./...
	$(GO) test -race -short -count=1 -timeout 10m ./...

test-short:
	$(GO) test -short ./...

race:
	$(GO) test -race -short -count=1 ./...

# The hostile-peer and crash probes (impls/probe) in their long versions:
# every TestProbe* under impls/ (crash cycles, torn logs, malformed inputs
# side by side with memcached, connection floods at full size). Minutes;
# `make test` runs the short versions.
probe:
	KVBENCH_PROBE=long $(GO) test -count=1 -timeout 40m -v -run '^TestProbe' ./impls/...

# Performance figures against the anchors (memcaslap, go-ycsb, memcached, the
# course's C shm pair), side by side as medians of interleaved rounds with CPU
# per op and the machine's load (scripts/bench.sh, then
# scripts/memkv-vs-memcached.sh; about 11 minutes, BENCH_ROUNDS=1 for a quick
# look). It builds go-ycsb with kvbench's memcached binding into bin/go-ycsb
# first (scripts/build-go-ycsb.sh, about two minutes once; if that fails the
# go-ycsb row says so and the rest runs). bench-micro runs the in-process Go
# benchmarks.
bench: build
	-test -x bin/go-ycsb || ./scripts/build-go-ycsb.sh bin/go-ycsb
	BIN=$(BIN) GO_YCSB=bin/go-ycsb ./scripts/bench.sh
	BIN=$(BIN) MKV_ROUNDS=$${BENCH_ROUNDS:-3} ./scripts/memkv-vs-memcached.sh

bench-micro:
	$(GO) test -run XXX -bench DriverPerOp -benchtime 2000000x ./driver/
	$(GO) test -run XXX -bench 'Check$$' -benchtime 1x ./checker/
	$(GO) test -run XXX -bench 'Matrix|Ceiling' -benchtime 50000x ./impls/shm/

clean:
	rm -rf bin runs report.md report-figures
