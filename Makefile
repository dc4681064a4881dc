# gorae: one static binary. `make quickstart` on a fresh machine, `make test` for everything.
GO      ?= go
BIN     := bin/gorae
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all build deps quickstart demo test test-unit vet fmt bench bench-quick clean

all: build

deps:
	@sh scripts/install-deps.sh

# bin/gorae is the small runtime front with the whole engine embedded
# (scripts/build.sh; cmd/gorae-front says why). `go build ./cmd/gorae`
# alone gives the engine as one plain binary.
build:
	sh scripts/build.sh $(BIN) $(VERSION)

# The main job: install, build, run a busybox container.
quickstart: deps build demo

demo: build
	sh scripts/demo.sh

# Every test. Root tests (namespaces, cgroups, mounts) run for real; under
# CI=true a root test that would skip fails instead.
test: deps build vet
	$(GO) test -count=1 -timeout 25m ./...

test-unit:
	$(GO) test -count=1 -short ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...

bench: build
	$(GO) run ./bench -gorae $(BIN)

bench-quick: build
	$(GO) run ./bench -quick -gorae $(BIN)

clean:
	rm -rf bin
