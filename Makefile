# kvbench — see README.md.
GO      ?= go
BIN     := bin/kvbench
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/kvbench/kvbench/results.stamped=$(VERSION)

.PHONY: all build demo test test-short race bench fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kvbench

# The main job: a quick sweep over every bundled store, then the report.
demo: build
	rm -rf runs/demo
	$(BIN) scenario run scenarios/quick.yaml --out runs/demo
	$(BIN) report runs/demo -o report.md
	@echo "wrote report.md"

# Everything CI runs: vet, then every test (integration tests start real
# servers, memcached and memccapable when installed).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m ./...

test-short:
	$(GO) test -short ./...

race:
	$(GO) test -race -short -count=1 ./...

# Performance figures, printed side by side (see README "Performance").
bench: build
	$(GO) test -run XXX -bench . -benchtime 2000000x ./scenarios/
	./scripts/bench.sh

clean:
	rm -rf bin runs report.md report-figures
