# OppSync. `make demo` runs the whole thing on the embedded local stack; `make test` runs
# every test (unit and integration, on real local servers). Tools are pinned and built from
# the Go module proxy into ./bin, so a fresh clone and CI get the same binaries.

SHELL := /bin/bash
BIN   := $(CURDIR)/bin
GO    ?= go
export GOBIN := $(BIN)

TEMPORAL_CLI := github.com/temporalio/cli/cmd/temporal@v1.5.1
VERSITYGW    := github.com/versity/versitygw/cmd/versitygw@v1.8.0
LOCAL_KMS    := github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6
TOXIPROXY    := github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0
TOXICLI      := github.com/Shopify/toxiproxy/v2/cmd/cli@v2.5.0
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
WORKFLOWCHECK := go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0

TOOLS := $(BIN)/temporal $(BIN)/versitygw $(BIN)/local-kms $(BIN)/server $(BIN)/cli

# Benchmark sizes (make bench FILES=200 RECORDS=10 CUSTOMERS=1000).
FILES     ?= 200
RECORDS   ?= 10
CUSTOMERS ?= 1000

.PHONY: all tools build test test-unit chaos lint demo bench bench-crm bench-scale search-attributes clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(BIN)/temporal:  ; $(GO) install $(TEMPORAL_CLI)
$(BIN)/versitygw: ; $(GO) install $(VERSITYGW)
$(BIN)/local-kms: ; $(GO) install $(LOCAL_KMS)
$(BIN)/server:    ; $(GO) install $(TOXIPROXY)
$(BIN)/cli:       ; $(GO) install $(TOXICLI)
$(BIN)/staticcheck:   ; $(GO) install $(STATICCHECK)
$(BIN)/workflowcheck: ; $(GO) install $(WORKFLOWCHECK)

tools: $(TOOLS) ## build the pinned local-stack tools into ./bin

build: ## build worker, starter, codec server and devstack into ./bin
	$(GO) build -o $(BIN)/oppsync-worker ./worker
	$(GO) build -o $(BIN)/oppsync-codec-server ./codecserver
	$(GO) build -o $(BIN)/starter ./starter
	$(GO) build -o $(BIN)/devstack ./devstack/cmd/devstack

test: tools lint ## run every test: lint, unit, replay, and integration on the real local stack
	OPPSYNC_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 25m ./...

chaos: tools ## fault-injection suite (kill -9, Temporal restart, toxiproxy faults) on the real local stack; see the README
	OPPSYNC_BIN_DIR=$(BIN) $(GO) test -tags chaos -count=1 -v -timeout 20m -run '^TestChaos$$' ./chaos/

test-unit: ## unit tests only (no local servers)
	$(GO) test -short -count=1 ./...

lint: $(BIN)/staticcheck $(BIN)/workflowcheck ## go vet, staticcheck, and workflowcheck (workflow determinism)
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	$(BIN)/workflowcheck ./workflows/...

demo: tools build ## run the demo on the embedded local stack (Ctrl-C stops it)
	$(BIN)/devstack demo --dir $(CURDIR)/.dev

bench: tools bench-crm ## benchmark the CRM connectors, the outbound sync and the scale (CUSTOMERS idle customers on one worker) on the local stack
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_BENCH_FILES=$(FILES) OPPSYNC_BENCH_RECORDS=$(RECORDS) \
	  OPPSYNC_BENCH_CUSTOMERS=$(CUSTOMERS) \
	  $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./bench/

bench-crm: ## only the CRM connectors: records/s and API calls per 1,000 records into the Salesforce and HubSpot contract servers
	$(GO) test -run '^$$' -bench 'BenchmarkSalesforceUpsert|BenchmarkHubSpotUpsert' -timeout 10m ./crm/salesforce/ ./crm/hubspot/

bench-scale: tools ## only the scale benchmark: CUSTOMERS idle customers on one worker process
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_BENCH_CUSTOMERS=$(CUSTOMERS) \
	  $(GO) test -run '^$$' -bench Scale -benchtime 1x -timeout 60m ./bench/

search-attributes: $(BIN)/temporal ## register OppSync's search attributes on the cluster in TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE
	$(BIN)/temporal operator search-attribute create --name CustomerId --type Keyword
	$(BIN)/temporal operator search-attribute create --name AceEnv --type Keyword
	$(BIN)/temporal operator search-attribute create --name SyncState --type Keyword
	$(BIN)/temporal operator search-attribute create --name LastSyncSuccess --type Datetime

clean: ## remove built binaries and local-stack state
	rm -rf $(BIN) .dev
