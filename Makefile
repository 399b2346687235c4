# stsd — see README.md. `make demo` and `make test` need only Go (plus the
# AWS CLI / boto3 / moto / node for the real-client tests, which say when
# they skip).
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN       := bin
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'
PREFIX    ?= /usr/local
DIST      := dist
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: all build demo test vet fmt-check cross-vet unit bench bench-micro fuzz clean js-deps release install

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/stsd ./cmd/stsd
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/stsd-credential-process ./cmd/stsd-credential-process
	$(GO) build -o $(BIN)/fakests ./internal/cmd/fakests

# Installs both binaries side by side (stsd-credential-process runs the stsd
# beside it): $(DESTDIR)$(PREFIX)/bin. Then see `stsd install`.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/stsd $(BIN)/stsd-credential-process $(DESTDIR)$(PREFIX)/bin/

# Both binaries for linux, darwin and windows × amd64, arm64 (12 binaries),
# static and version stamped: dist/stsd_<version>_<os>_<arch>.tar.gz (.zip
# for windows) and dist/SHA256SUMS. Not part of `make test`.
release:
	rm -rf $(DIST)
	set -e; for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  name=stsd_$(VERSION)_$${os}_$${arch}; \
	  for cmd in stsd stsd-credential-process; do \
	    CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build $(GOFLAGS_BUILD) -o $(DIST)/$$name/$$cmd$$ext ./cmd/$$cmd; \
	  done; \
	  cp README.md $(DIST)/$$name/; \
	  if [ $$os = windows ]; then (cd $(DIST) && zip -qrX $$name.zip $$name); \
	  else tar -C $(DIST) -czf $(DIST)/$$name.tar.gz $$name; fi; \
	  rm -rf $(DIST)/$$name; \
	done
	cd $(DIST) && if command -v sha256sum >/dev/null; then sha256sum *.tar.gz *.zip; else shasum -a 256 *.tar.gz *.zip; fi > SHA256SUMS
	@cat $(DIST)/SHA256SUMS

# Starts a local STS stand-in and the daemon with a sample config in a temp
# HOME, and shows credentials reaching the AWS CLI. Ctrl-C stops it all.
demo: build
	./scripts/demo.sh

test: js-deps vet fmt-check cross-vet unit

# The AWS SDK for JavaScript v3 clients of the real-client tests, pinned by
# testdata/js/package-lock.json. Reinstalled when the lock file is newer
# than node_modules; skipped (the tests then say so) without npm.
JS_DIR := testdata/js
js-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "js-deps: npm not installed: the JavaScript SDK tests will skip"; \
	elif [ ! -f $(JS_DIR)/node_modules/.package-lock.json ] || \
	     [ $(JS_DIR)/package-lock.json -nt $(JS_DIR)/node_modules/.package-lock.json ]; then \
		echo "npm ci in $(JS_DIR)"; \
		cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

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

# Measures stsd against physical floors measured in the same run, all on
# loopback in temp HOMEs (about 5 minutes on 2 cores), and writes
# bench/REPORT.md: credential_process, IMDS/ECS throughput, the refresh
# burst, idle RSS, botocore and AWS CLI cost. Never part of `make test`.
# Quietest on an otherwise idle machine: the report says how much CPU other
# processes took during each section.
bench: build
	$(GO) build -o $(BIN)/stsdbench ./bench/cmd/stsdbench
	$(BIN)/stsdbench -bin $(BIN) -out bench/REPORT.md

# The Go micro-benchmarks (handler costs, allocations).
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./... | tee bench.out

# Runs every fuzz target for FUZZTIME each (`make fuzz FUZZTIME=5m`). Not
# part of `make test`: there the committed seed corpora (testdata/fuzz/)
# run as ordinary tests. A failure leaves its input in testdata/fuzz/FuzzX/:
# fix the bug and commit the input as a regression seed.
FUZZTIME ?= 20s
FUZZ_TARGETS := \
	./config:FuzzConfig \
	./config/internal/tomlpos:FuzzLocateKeys \
	./cache:FuzzCacheDecode \
	./internal/stsclient:FuzzSTSResponse \
	./daemon:FuzzControlAPI \
	./imds:FuzzEndpoint \
	./imds:FuzzIMDSTokenTTL \
	./imds:FuzzIMDSToken \
	./ecs:FuzzEndpoint \
	./ecs:FuzzECSAuthorization \
	./ecs:FuzzContainerEndpoint \
	./ecs:FuzzIDsFile \
	./broker:FuzzProxyHeader \
	./credproc:FuzzResponse \
	./install:FuzzSetProfileKey \
	./internal/ststest:FuzzParseAuthorization \
	./internal/ststest:FuzzParseGetFederationToken
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	done

clean:
	rm -rf $(BIN) $(DIST) bench.out
