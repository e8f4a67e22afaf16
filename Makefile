# kmemfix: every target a new user or CI needs. `make test` is what CI runs.
SHELL := /bin/bash
GO    ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/kmemfix/kmemfix/node.Version=$(VERSION)

.PHONY: all build node-helper test test-short lint demo clean deps

all: build

build: node-helper
	$(GO) build -o bin/kmemfix ./cmd/kmemfix
	$(GO) build -o bin/kmemfix-worker ./cmd/kmemfix-worker

# The node helper runs on CentOS 7 nodes: static, no cgo, both architectures.
node-helper:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kmemfix-node ./cmd/kmemfix-node
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kmemfix-node-arm64 ./cmd/kmemfix-node
	cp bin/kmemfix-node bin/kmemfix-node-amd64

# Everything the tests need from Debian (sshd, sudo, chromium; qemu, busybox and a kernel for the lab).
deps:
	./scripts/deps.sh

# Every test. The QEMU kernel lab runs on its own afterwards so the guest
# does not compete for the two cores with the other test binaries.
test: deps build
	$(GO) vet ./...
	$(GO) tool workflowcheck ./workflows/...
	$(GO) test -count=1 -timeout 40m $$($(GO) list ./... | grep -v /lab)
	$(GO) test -count=1 -timeout 20m ./lab/...

test-short: build
	$(GO) test -short -count=1 ./...

lint:
	$(GO) tool -modfile=tools/go.mod golangci-lint run ./...

demo: build
	./bin/kmemfix demo

clean:
	rm -rf bin
