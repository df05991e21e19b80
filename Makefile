# Tusk: `make run` starts the gateway on the embedded default; `make test`
# runs every test, installing what it needs on a fresh Debian machine.
GO       ?= go
BIN      := bin/tusk
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Packages whose tests move large objects or kill processes run without -race.
NORACE   := $(foreach d,large crash multipart pipelines k8s soak,$(if $(wildcard test/$(d)),./test/$(d)/...))
RACEPKGS  = $(shell $(GO) list ./... | grep -v -e /test/large -e /test/crash -e /test/bench -e /test/multipart -e /test/pipelines -e /test/k8s -e /test/soak)

.PHONY: build run test test-deps test-go test-clients bench vet clean image soak killloop

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/tusk

# image: Tusk's container image, built offline (no Docker engine) as an OCI
# layout tarball: a static binary on an empty base, user 65532 (cmd/tusk-image).
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/tusk-static ./cmd/tusk
	$(GO) run ./cmd/tusk-image -binary bin/tusk-static -out bin/tusk-image.tar
	@echo "bin/tusk-image.tar: load it with skopeo copy oci-archive:bin/tusk-image.tar ... or podman load -i bin/tusk-image.tar"

run: build
	./$(BIN) serve

vet:
	$(GO) vet ./...

test-deps:
	bash scripts/install-test-deps.sh
	bash scripts/install-versitygw.sh
	bash scripts/install-k8s-test.sh

# The end-to-end packages run one tusk binary built here (TUSK_BIN) instead of
# building their own; its version is the one test/cli's golden files expect.
TESTBIN := $(CURDIR)/bin/tusk-test

test-go: build
	$(GO) build -ldflags "-X main.version=v0.0.0-test" -o $(TESTBIN) ./cmd/tusk
	TUSK_BIN=$(TESTBIN) $(GO) test -race -count=1 -timeout 30m $(RACEPKGS)
	TUSK_BIN=$(TESTBIN) $(GO) test -count=1 -timeout 30m $(NORACE)
	# the randomized incremental-vs-full datum test with all its seeds (fewer under -race)
	$(GO) test -count=1 -run TestReviewIncrementalEqualsFull ./pipelines/

test-clients: build
	bash test/clients.sh
	bash test/conformance/run.sh

test: test-deps vet test-go test-clients
	@echo "make test: all tests passed"

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/...
	$(GO) test -run '^$$' -bench . -benchtime 2s -timeout 20m ./meta/ ./gateway/
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 20m ./pipelines/

# The scale curves (docs/performance.md): a repo of 1k, 100k and 1M keys each,
# measured through `tusk serve`; one table, JSON in bin/bench-scale.json.
# SCALE=1k,100k,1M,10M adds 10M keys (about 10x the 1M run's time and disk).
SCALE ?= 1k,100k,1M
.PHONY: bench-scale
bench-scale: build
	TUSK_BENCH_SCALE=$(SCALE) $(GO) test -run '^$$' -bench Scale -benchtime 1x -timeout 240m ./test/bench/

# soak: the soak test by hand (make soak DURATION=30m CLIENTS=16); killloop:
# the kill -9 loop (make killloop CYCLES=50). Each prints its report and
# fails on any violation (docs/testing.md); make test runs 2 min and 10 cycles.
DURATION ?= 30m
CLIENTS  ?= 16
CYCLES   ?= 50
soak: build
	$(GO) run ./test/soak/cmd/soak -mode soak -duration $(DURATION) -clients $(CLIENTS) -tusk $(CURDIR)/$(BIN)

killloop: build
	$(GO) run ./test/soak/cmd/soak -mode kill -cycles $(CYCLES) -clients $(CLIENTS) -tusk $(CURDIR)/$(BIN)

clean:
	rm -rf bin
