# The project's commands. `make test` is the test command CI runs.
SHELL := /bin/bash
GO ?= go

.PHONY: test run build tools vet fmt fuzz

## test: install Azurite if missing, then run every test (each test binary
## starts its own Azurite unless AZURITE_CONNECTION_STRING names one).
test: tools
	$(GO) test -count=1 -timeout 15m ./...

## run: the whole local product on its embedded defaults.
run: tools
	scripts/run-local.sh

## build: the handler binary for this machine.
build:
	$(GO) build -o bin/handler .

tools:
	scripts/azurite.sh install

## fuzz: a short run of every fuzz target (FUZZTIME each, default 10000x: ten thousand inputs).
fuzz:
	scripts/fuzz.sh

## bench: how fast and how lean the handler is, beside the floor of what an
## event cannot avoid; prints a table and writes bench/results/latest.json
## (see bench/README.md). Figures only: it never fails on a time.
.PHONY: bench
bench: tools
	$(GO) run ./bench/cmd/bench

## reliability: duplicates, faults, crashes and hostile input against the
## real handler and local host, with nothing lost (see reliability/README.md);
## one line per scenario, and reliability/results/latest.json. It fails on a
## broken invariant, never on a time. `go test ./reliability/...` runs a
## small version.
.PHONY: reliability
reliability: tools
	$(GO) run ./reliability/cmd/reliability

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

## package: dist/app.zip, the deployable Functions package (linux/amd64
## handler + host.json + one folder per function.json); MAIN_PKG and
## DIST_DIR override the defaults, see scripts/package.sh.
.PHONY: package
package:
	bash scripts/package.sh

## func-start: stage the app for Azure Functions Core Tools in .local/func
## (host.json, one folder per function.json, the handler for this machine,
## local.settings.json from local.settings.sample.json the first time) and
## print how to run it: `cd .local/func && func start`. Core Tools are not
## needed to stage; FUNC_DIR and LOCAL_SETTINGS override, see
## scripts/func-start.sh.
.PHONY: func-start
func-start:
	bash scripts/func-start.sh
