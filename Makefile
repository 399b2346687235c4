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

.PHONY: all build demo test test-tools release-test vet fmt-check cross-vet unit bench pgo bench-micro fuzz clean js-deps release install

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

# Everything a release publishes, in dist/: the archives
# (stsd_<version>_<os>_<arch>.tar.gz, .zip for windows; both binaries,
# static and version stamped), .deb and .rpm for amd64 and arm64, the
# multi-arch OCI image layout (stsd_<version>_oci.tar), a CycloneDX SBOM
# beside each (.cdx.json), the Homebrew formula (stsd.rb) and winget
# manifest (stsd.stsd.yaml) with their checksums, and SHA256SUMS. Built by
# tools/release, a module of its own. Not part of `make test`.
release:
	cd tools/release && $(GO) run . -version $(VERSION) -commit $(COMMIT) -out $(CURDIR)/$(DIST)
	@cat $(DIST)/SHA256SUMS

# Starts a local STS stand-in and the daemon with a sample config in a temp
# HOME, and shows credentials reaching the AWS CLI. Ctrl-C stops it all.
demo: build
	./scripts/demo.sh

test: js-deps test-tools vet fmt-check cross-vet unit release-test

# Debian packages the tests drive: tmux (stsd init and MFA prompts), zsh
# and fish (the completion scripts), rpm (the .rpm's headers), and the
# keyring backends the key-store tests use for real: gnome-keyring (Secret
# Service, under dbus-run-session), pass + gnupg, keyutils (keyctl).
# Installed with one apt-get update, only when one is absent; without
# apt-get the tests that need them say why they skip.
TEST_TOOLS := tmux:tmux zsh:zsh fish:fish rpm:rpm \
	gnome-keyring-daemon:gnome-keyring dbus-run-session:dbus secret-tool:libsecret-tools \
	pass:pass gpg:gnupg keyctl:keyutils
test-tools:
	@missing=; for t in $(TEST_TOOLS); do \
		command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "test-tools: installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "test-tools: missing$$missing (no apt-get as root): those tests will skip"; fi; \
	fi

# The release tooling's own module (nfpm, go-containerregistry, k8s.io/api
# stay out of go.mod): vet and test it, building one architecture's .deb
# and .rpm only; the full `make release` stays out of `make test`.
release-test:
	cd tools/release && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m ./...

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

# Refreshes cmd/stsd/default.pgo, the profile `go build` optimizes the
# daemon with (profile-guided optimization: every build of ./cmd/stsd
# uses it): the daemon's CPU profile while the bench's load generator
# drives its IMDS and ECS credential GETs. Run it on an idle machine after
# changing the request path, then `make bench`.
pgo: build
	$(GO) build -o $(BIN)/stsdbench ./bench/cmd/stsdbench
	$(BIN)/stsdbench -bin $(BIN) -only profile -pgo cmd/stsd/default.pgo -out $(BIN)/pgo-profile.md

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
	./config:FuzzParseDuration \
	./config:FuzzNames \
	./install:FuzzCredentialsEdits \
	./config/internal/tomlpos:FuzzLocateKeys \
	./cache:FuzzCacheDecode \
	./cache:FuzzDecodeFast \
	./internal/wire:FuzzMarshal \
	./internal/wire:FuzzParseReady \
	./internal/stsclient:FuzzSTSResponse \
	./internal/stsclient:FuzzSigninToken \
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
	./internal/ststest:FuzzParseGetFederationToken \
	./internal/ststest:FuzzParseAssumeRole \
	./internal/clidoc:FuzzComplete \
	./internal/gcroom:FuzzPercent
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	done

clean:
	rm -rf $(BIN) $(DIST) bench.out
