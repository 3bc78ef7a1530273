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
# The Selling API benchmark's sizes: opportunities on AWS's side pulled into the CRM, and
# opportunities created in the CRM pushed to ACE (make bench-api API_RECORDS=100 API_CREATES=25).
API_RECORDS ?= 100
API_CREATES ?= 25
# The scale benchmark's poll interval (empty: 30s) and the memory benchmark's RSS bound.
POLL         ?=
RSS_LIMIT_MB ?= 1024

.PHONY: all tools build test test-unit ui-test chaos lint demo bench bench-crm bench-outbound bench-gap bench-memory bench-scale bench-api search-attributes clean help

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
	$(GO) build -o $(BIN)/oppsync-worker ./cmd/oppsync-worker
	$(GO) build -o $(BIN)/oppsync-codec-server ./cmd/oppsync-codec-server
	$(GO) build -o $(BIN)/starter ./cmd/starter
	$(GO) build -o $(BIN)/devstack ./cmd/devstack

test: tools lint ## run every test: lint, unit, replay, and integration on the real local stack
	OPPSYNC_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 25m ./...

ui-test: tools build ## the operator's view in headless Chromium (Debian's chromium) against the demo; screenshots in ui-test/screenshots/
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_UI_TEST=1 $(GO) test -count=1 -timeout 20m -v -run TestOperatorUI ./ui-test/

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

bench: tools build bench-crm ## benchmark the CRM connectors, then outbound (worker and starter binaries vs the sequential loop), inbound, memory (200 × 10 MiB), scale (CUSTOMERS idle customers on one worker) and the Selling API transport; prints a markdown summary
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_BENCH_BINARIES=$(BIN) OPPSYNC_BENCH_FILES=$(FILES) OPPSYNC_BENCH_RECORDS=$(RECORDS) \
	  OPPSYNC_BENCH_CUSTOMERS=$(CUSTOMERS) OPPSYNC_BENCH_API_RECORDS=$(API_RECORDS) OPPSYNC_BENCH_API_CREATES=$(API_CREATES) \
	  $(GO) test -run '^$$' -bench '^Benchmark(Outbound|Inbound|Memory|Scale|SellingAPI)$$' -benchtime 1x -timeout 100m ./bench/

bench-crm: ## only the CRM connectors: records/s and API calls per 1,000 records into the Salesforce and HubSpot contract servers
	$(GO) test -run '^$$' -bench 'BenchmarkSalesforceUpsert|BenchmarkHubSpotUpsert' -timeout 10m ./crm/salesforce/ ./crm/hubspot/

bench-outbound: tools build ## only the headline outbound benchmark (FILES × RECORDS; worker and starter binaries vs the sequential loop)
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_BENCH_BINARIES=$(BIN) OPPSYNC_BENCH_FILES=$(FILES) OPPSYNC_BENCH_RECORDS=$(RECORDS) \
	  $(GO) test -run '^$$' -bench '^BenchmarkOutbound$$' -benchtime 1x -timeout 30m ./bench/

bench-gap: tools build ## where the binaries' time goes vs an in-process worker: the same backlog in nine variants (S3 on loopback; journal modes, tmpfs)
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_BENCH_BINARIES=$(BIN) OPPSYNC_BENCH_FILES=$(FILES) OPPSYNC_BENCH_RECORDS=$(RECORDS) \
	  $(GO) test -run '^$$' -bench '^BenchmarkOutboundGap$$' -benchtime 1x -timeout 30m ./bench/

bench-memory: tools build ## only the memory benchmark: worker peak RSS syncing 200 files of ~10 MiB (fails over RSS_LIMIT_MB, default 1024)
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_BENCH_BINARIES=$(BIN) OPPSYNC_BENCH_RSS_LIMIT_MB=$(RSS_LIMIT_MB) \
	  $(GO) test -run '^$$' -bench '^BenchmarkMemory$$' -benchtime 1x -timeout 60m ./bench/

bench-scale: tools build ## only the scale benchmark: CUSTOMERS idle customers on one worker process (POLL: their poll interval)
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_BENCH_BINARIES=$(BIN) OPPSYNC_BENCH_CUSTOMERS=$(CUSTOMERS) OPPSYNC_BENCH_POLL=$(POLL) \
	  $(GO) test -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x -timeout 120m ./bench/

bench-api: tools build ## only the Selling API transport against the contract server: records/s each way (API_RECORDS pulled, API_CREATES pushed) and calls per 1,000 records, at AWS's published quotas and lifted
	OPPSYNC_BIN_DIR=$(BIN) OPPSYNC_BENCH_BINARIES=$(BIN) OPPSYNC_BENCH_API_RECORDS=$(API_RECORDS) OPPSYNC_BENCH_API_CREATES=$(API_CREATES) \
	  $(GO) test -run '^$$' -bench '^BenchmarkSellingAPI$$' -benchtime 1x -timeout 30m ./bench/

search-attributes: $(BIN)/temporal ## register OppSync's search attributes on the cluster in TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE
	$(BIN)/temporal operator search-attribute create --name CustomerId --type Keyword
	$(BIN)/temporal operator search-attribute create --name AceEnv --type Keyword
	$(BIN)/temporal operator search-attribute create --name SyncState --type Keyword
	$(BIN)/temporal operator search-attribute create --name LastSyncSuccess --type Datetime
	$(BIN)/temporal operator search-attribute create --name BrokenLink --type Keyword
	$(BIN)/temporal operator search-attribute create --name QuarantinedFiles --type Int
	$(BIN)/temporal operator search-attribute create --name AwaitingAceResults --type Int

clean: ## remove built binaries and local-stack state
	rm -rf $(BIN) .dev
