# stsd — see README.md. `make demo` and `make test` need only Go (plus the
# AWS CLI / boto3 / moto / node for the real-client tests, which say when
# they skip).
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN       := bin
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'

.PHONY: all build demo test vet fmt-check cross-vet unit bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/stsd ./cmd/stsd
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/stsd-credential-process ./cmd/stsd-credential-process
	$(GO) build -o $(BIN)/fakests ./internal/cmd/fakests

# Starts a local STS stand-in and the daemon with a sample config in a temp
# HOME, and shows credentials reaching the AWS CLI. Ctrl-C stops it all.
demo: build
	./scripts/demo.sh

test: vet fmt-check cross-vet unit

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Type-check the other platforms; full release builds stay out of `make test`.
cross-vet:
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 12m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./... | tee bench.out

clean:
	rm -rf $(BIN) bench.out
