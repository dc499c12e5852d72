# certctl — build, test, benchmark.
GO      ?= go
BIN     ?= bin/certctl
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test bench lint quickstart acme-example tools clean

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/certctl

# The test command the README names; .ci/run calls it.
test: tools
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# Tools the tests start for real (pebble, the ACME test server).
tools:
	@./.ci/tools

# Go benchmarks and whole-command timings, with baselines from the same run.
bench: build tools
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./cmd/certctl-bench -certctl $(BIN)
	$(GO) run ./cmd/certctl-bench -certctl $(BIN) -watch

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

# Runs the quickstart example in a scratch copy, on its embedded defaults.
quickstart: build
	@./examples/quickstart/run.sh $(abspath $(BIN))

# Runs examples/acme-pebble against a pebble it starts on loopback.
acme-example: build tools
	@./examples/acme-pebble/run.sh $(abspath $(BIN))

clean:
	rm -rf bin
