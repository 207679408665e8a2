# walletpass — run `make help` for the targets.
GO        ?= go
FUZZTIME  ?= 20s
BENCHTIME ?= 2s
STATICCHECK_VERSION ?= v0.8.2
# go.mod asks for Go 1.27.3 (the first with fixes for the standard library's
# known vulnerabilities); an older local Go fetches that toolchain once.
export GOTOOLCHAIN ?= go1.27.3

.PHONY: help run build test test-race lint vuln image bench fuzz tidy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: build ## start the service on the embedded default (SQLite, ./data, demo tenant, development PKI)
	./bin/walletpass serve

build: ## build bin/walletpass
	$(GO) build -buildvcs=auto -o bin/walletpass ./cmd/walletpass

# -timeout: cmd/walletpass's end-to-end tests take 3-4 minutes under the
# race detector on 2 cores; a busy shared machine has stretched them past
# go test's default 10 minutes.
test: ## run every test with the race detector
	$(GO) test -race -count=1 -timeout 30m ./...

test-race: test ## same as test: the race detector is always on

lint: ## go vet, gofmt, staticcheck, and go.mod tidy
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@out=$$("$$($(GO) env GOROOT)/bin/gofmt" -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@command -v staticcheck >/dev/null 2>&1 || { echo "staticcheck missing: GOTOOLCHAIN=$(GOTOOLCHAIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)"; exit 1; }
	staticcheck ./...

vuln: ## govulncheck against a vulnerability database built offline from golang.org/x/vulndb
	GO=$(GO) scripts/vuln.sh

image: ## the container image walletpass:dev, built offline (podman or docker; scripts/image.sh)
	scripts/image.sh walletpass:dev

bench: ## run the benchmarks (see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -cpu 1,2 ./...

# -fuzzminimizetime: shrinking each new input may take the fuzzer 60 s,
# longer than FUZZTIME, and the targets of slow inputs then barely run.
fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $$pkg; \
	  done; done

clean: ## remove build output (keeps ./data)
	rm -rf bin
