# cardswitch: make help lists the targets.
GO        ?= go
PKGS      := ./...
# Fuzz budgets are counts of executions, never durations: with -fuzztime 10s,
# Go 1.26's fuzz coordinator can fail a clean run with a bare "context deadline
# exceeded" as the deadline passes (golang/go#75804, fixed in Go 1.27; CI hit it
# on FuzzDecode, no crasher written). A count has no deadline to race. Each
# count is about 8 s of fuzzing on a 2-core CI machine; FUZZSCALE multiplies
# them (make fuzz: 60, about 8 minutes a target).
FUZZSCALE ?= 1
# Go minimizes each new input for up to 60s by default, which made short runs of
# FuzzLifeCycle spend most of their time minimizing (execs stalled at 0/s).
FUZZMINTIME ?= 2s
FUZZ_TARGETS := codec:FuzzFraming:50000 codec:FuzzDecode:150000 codec:FuzzDifferential:60000 \
	hsm:FuzzDecryptPINBlock:300000 hsm:FuzzUnwrapKeyBlock:200000 hsm:FuzzLMKDecryptKey:250000 \
	journal:FuzzDecodeRecord:80000 hsm/payshield:FuzzServerCommand:150000 engine/auth:FuzzLifeCycle:12000 \
	engine/upstream:FuzzTable:100000 engine/upstream:FuzzKey:150000 \
	codec/emv:FuzzTLV:200000 hsm:FuzzVerifyARQC:200000
BENCHTIME ?= 1s

CRASH_KILLS ?= 50
CRASH_SEED  ?=

.PHONY: help build run test test-deps test-race test-short test-diskfull fuzz fuzz-short bench bench-full bench-codec bench-upstream bench-journal bench-restart bench-saf bench-tls bench-tls-engine test-stream soak crash-test saf-crash-test abuse dashboard-test lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/cardswitch
	$(GO) build -buildvcs=auto -o bin/cardswitch ./cmd/cardswitch # -buildvcs: stamp the commit even where GOFLAGS says -buildvcs=false

run: build ## serve on the embedded default configuration
	./bin/cardswitch serve

# The race-enabled tests and the short fuzz runs go side by side (-j2, each
# target's output kept together by -O): the tests' last minutes are one
# package (cmd/cardswitch) waiting on its servers, which leaves a core to the
# fuzzer; one after the other they took 9m20s here, near CI's 10-minute bound.
test: lint ## vet, race-enabled tests of every package, short fuzz runs
	$(MAKE) --no-print-directory -j2 -O test-race fuzz-short

# internal/crashtest runs the switch under strace (TestSyncBeforeReply) and fails without it.
test-deps: ## install what the tests need when it is missing: strace (apt-get, as root)
	@command -v strace >/dev/null || (apt-get update -qq && apt-get install -y -qq strace)

test-race: test-deps ## race-enabled tests of every package
	$(GO) test -race -count=1 $(PKGS)

# The disk-full tests mount a tmpfs (root: CI is root; elsewhere they skip) and
# fill it under a running journal and switch; they are part of test-race too.
test-diskfull: ## the disk-full tests alone, verbose: journal pause, 96 replies, resume, verify on a full disk
	$(GO) test -race -count=1 -v -run 'TestDiskFull' ./journal/ ./engine/

test-short: test-deps ## tests without the race detector (quick)
	$(GO) test -count=1 $(PKGS)

fuzz-short: ## each fuzz target for a fixed count of executions (about 8 s each; FUZZSCALE multiplies)
	@for pt in $(FUZZ_TARGETS); do \
		p=$${pt%%:*}; rest=$${pt#*:}; t=$${rest%%:*}; n=$$(( $${rest#*:} * $(FUZZSCALE) )); \
		echo "fuzz $$p $$t for $$n executions"; \
		$(GO) test ./$$p/ -run '^$$' -fuzz "^$$t$$" -fuzztime $${n}x -fuzzminimizetime $(FUZZMINTIME) -timeout 60m || exit 1; \
	done

fuzz: ## long fuzz runs: 60 times the short counts (about 8 minutes a target; FUZZSCALE=...)
	$(MAKE) fuzz-short FUZZSCALE=$(if $(filter 1,$(FUZZSCALE)),60,$(FUZZSCALE))

bench: build ## the standard comparison: echo, moov peer, engine, full switch (64x16, 10s), then 8x1
	./bin/cardswitch bench --compare --conns 64 --inflight 16 --duration 10s --warmup 2s --html bench-64x16.html
	./bin/cardswitch bench --compare --conns 8 --inflight 1 --duration 10s --warmup 2s --html bench-8x1.html

# Each run measures 10 s after 2 s of warm-up: 4 loads x 4 targets, about 4 minutes in all. A load
# that a target cannot keep up with fails its check (exit 1); the '-' lets the other loads still run.
BENCH_FULL_TARGETS ?= echo,moov,engine,full
bench-full: build ## the full switch (journal fsynced) beside engine, echo, moov: 64x16, 8x1, open loop 20k/s and 50k/s; throughput, latency, codes, CPU per message
	@rc=0; for run in \
		'--conns 64 --inflight 16 --duration 10s --warmup 2s --json bench-full-64x16.json --html bench-full-64x16.html' \
		'--conns 8 --inflight 1 --duration 10s --warmup 2s --json bench-full-8x1.json --html bench-full-8x1.html' \
		'--rate 20000 --conns 64 --inflight 64 --duration 10s --warmup 2s --json bench-full-20k.json --html bench-full-20k.html' \
		'--rate 50000 --conns 64 --inflight 64 --duration 10s --warmup 2s --json bench-full-50k.json --html bench-full-50k.html' \
		; do ./bin/cardswitch bench --compare --targets $(BENCH_FULL_TARGETS) $$run || rc=1; done; exit $$rc # every run, then fail if one did

test-stream: ## the engine's tests with its plain links served by streamConn, the TLS links' path (two gnet-only tests skip)
	ENGINE_TEST_STREAM=1 $(GO) test -count=1 ./engine/

bench-tls: build ## the full switch served with a plain and a TLS link (mutual TLS): 64x16 on each in turn, twice, with the server's CPU per message (reports in bench-tls/)
	BIN=./bin/cardswitch bench/tls.sh

bench-tls-engine: ## the transports alone (gnet, streamConn on plain TCP, TLS): msg/s and CPU per message at 64x16, memory per connection
	$(GO) test ./engine/ -run '^$$' -bench LinkTransport -benchtime 200000x -count 3
	$(GO) test ./engine/ -run '^$$' -bench LinkConnMemory -benchtime 1x

bench-codec: ## codec benchmarks (cardswitch against moov-io/iso8583 in the same run)
	$(GO) test ./codec/ -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME)

bench-upstream: ## upstream matching: put+take, the wheel's tick with 10k in flight, catch-up, connection pick, field mapping; 10k forwarded requests in flight through the switch (goroutines, expiry lateness)
	$(GO) test ./engine/upstream/ -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME)
	$(GO) test ./engine/ -run '^$$' -bench ForwardTimeoutLateness -benchtime 1x

bench-journal: ## journal append throughput, commit latency and replay rate
	$(GO) test ./journal/ -run '^$$' -bench 'Append' -benchtime 300000x
	$(GO) test ./journal/ -run '^$$' -bench 'CommitLatency|Replay' -benchtime 1x

RESTART_RECORDS ?= 10000000

bench-restart: ## journal RESTART_RECORDS decisions (default 10M) through the real switch, then time its restart after SIGKILL and after a stop
	RESTART_RECORDS=$(RESTART_RECORDS) $(GO) test ./internal/crashtest/ -run '^$$' -bench Restart -benchtime 1x -timeout 60m -v

SOAK_DAYS ?= 28
SOAK_PER_DAY ?= 50000

soak: ## the whole switch on a fake clock through SOAK_DAYS business days (28) of SOAK_PER_DAY purchases: heap, index, journal, snapshots and archive day by day
	SOAK_DAYS=$(SOAK_DAYS) SOAK_PER_DAY=$(SOAK_PER_DAY) $(GO) test ./cmd/cardswitch/ -run '^$$' -bench Weeks -benchtime 1x -timeout 120m -v

saf-crash-test: ## kill the switch SAF_KILLS times (default 100) while its destination is slow or silent; prints the store-and-forward counts (owed, delivered, applied, repeats, lost)
	SAF_KILLS=$(or $(SAF_KILLS),100) CRASH_SEED=$(CRASH_SEED) $(GO) test ./internal/crashtest/ -count=1 -v -run TestSAFCrashRecovery -timeout 60m

bench-saf: ## store-and-forward throughput after an outage of SAF_ENTRIES (default 100000) reversals, at the default window and at 512
	$(GO) test ./engine/ -run '^$$' -bench BenchmarkSAFDrain -benchtime 1x -count=1
	SAF_WINDOW=512 $(GO) test ./engine/ -run '^$$' -bench BenchmarkSAFDrain -benchtime 1x -count=1

crash-test: ## kill the real binary under load CRASH_KILLS times (default 50; CRASH_SEED=... repeats a run's kill times); no acknowledged approval may be lost
	CRASH_KILLS=$(CRASH_KILLS) CRASH_SEED=$(CRASH_SEED) $(GO) test ./internal/crashtest/ -count=1 -v -run TestCrashRecovery -timeout 30m

abuse: test-deps ## run every attack of the abuse run against the built switch at full size; one line per attack with its verdict
	ABUSE=full $(GO) test ./internal/crashtest/ -count=1 -v -run '^TestAbuse$$' -timeout 30m

# Behind the browser build tag: make test has no browser and never compiles it,
# so it cannot be skipped there quietly. About 45 s: the load runs for 40 s.
DASHBOARD_SHOT ?= $(CURDIR)/bin/dashboard.png
dashboard-test: ## headless Chromium loads the live dashboard against the switch under load, checks its figures against /metrics, saves a screenshot (DASHBOARD_SHOT; installs chromium when missing, as root)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	@mkdir -p $(dir $(DASHBOARD_SHOT))
	DASHBOARD_SHOT=$(DASHBOARD_SHOT) $(GO) test -tags browser -count=1 -v -run '^TestDashboardInBrowser$$' ./cmd/cardswitch/
	@echo "dashboard screenshot: $(DASHBOARD_SHOT)"

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean: ## remove build output
	rm -rf bin
