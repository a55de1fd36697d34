# The top-up order engine. `make run` and `make test` are the two commands.
GO        ?= go
BIN       := bin
PKGS      := ./...
CONFIG    ?= config/example.yaml
GOTESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build run test test-race test-short lint deps sim bench bench-smoke fuzz fuzz-smoke clean torture recovery-bench

all: build

# deps installs what the project needs outside Go (Debian): redis-server.
deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (Debian package)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server >/dev/null; }
	@command -v redis-server >/dev/null 2>&1 || { echo "redis-server is still missing"; exit 1; }

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/topupd ./cmd/topupctl ./cmd/topupsim

# run: the engine with the example config (it spawns its own redis-server,
# data under ./var) and a socket-module simulator on 127.0.0.1:60001.
run: deps build
	@mkdir -p var
	@echo "starting topupsim on 127.0.0.1:60001 (log: var/topupsim.log)"
	@$(BIN)/topupsim -listen 127.0.0.1:60001 -key bff0378ea5ef0d5d -callback 127.0.0.1:50899 \
	  -mix success=85,fail=8,fail_target=3,uncertain=2,nocallback=2 -latency 300ms > var/topupsim.log 2>&1 & \
	  sim=$$!; trap "kill $$sim 2>/dev/null" EXIT INT TERM; \
	  $(BIN)/topupd -config $(CONFIG)

# test: every test, including integration tests against a real redis-server,
# the real daemon, the simulator and a test operator.
test: deps
	$(GO) vet $(PKGS)
	$(GO) test $(GOTESTFLAGS) $(PKGS)

# test-race: the in-process packages under the race detector (the
# integration tests in cmd/topupd drive separate processes).
RACE_PKGS := ./engine/ ./actors/ ./persistence/... ./transports/... ./cmd/internal/... \
	./bench/simkit/ ./bench/sockmodsim/ ./bench/juhesim/ ./bench/dingyinsim/ ./bench/opersim/
test-race: deps
	$(GO) test -race -count=1 $(RACE_PKGS)

test-short: deps
	$(GO) test -short -count=1 $(PKGS)

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

# torture: the kill -9 test at full size (10,000 orders across socket and
# HTTP suppliers, 20 SIGKILLs); `make test` runs it at 600 orders, 2 kills.
TORTURE_ORDERS ?= 10000
TORTURE_KILLS  ?= 20
torture: deps
	TOPUP_TORTURE_ORDERS=$(TORTURE_ORDERS) TOPUP_TORTURE_KILLS=$(TORTURE_KILLS) \
	  $(GO) test -count=1 -timeout 60m -run 'TestSIGKILLDuringBurst' -v ./cmd/topupd/ 2>&1 | tee var/torture.log | grep -E 'torture:|^(--- |ok|FAIL|PASS)'

# recovery-bench: start-up recovery of an order log with 1,000,000 orders.
RECOVERY_ORDERS ?= 1000000
recovery-bench: deps
	TOPUP_RECOVERY_ORDERS=$(RECOVERY_ORDERS) $(GO) test -count=1 -timeout 60m -run 'TestRecoveryOfALargeLog' -v ./cmd/topupd/ | grep -E 'recovery|^(--- |ok|FAIL)'

# fuzz: every fuzz target for FUZZTIME each (fuzz-smoke: 3 s each, in CI).
FUZZTIME ?= 30s
FUZZ_TARGETS := FuzzFrameEnd:./transports/sockmod/ FuzzDecodeResult:./transports/sockmod/ \
	FuzzParseOrder:./transports/operapi/ FuzzParseReply:./transports/juhe/ \
	FuzzParseXML:./transports/dingyin/ FuzzParseCallback:./transports/dingyin/ \
	FuzzDecodeOrder:./persistence/
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t%%:*} ($(FUZZTIME))"; \
	  $(GO) test -run XXX -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:}; done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

# bench: the micro-benchmarks, then the standard topupbench suite (ceilings,
# burst, rate, mixed, duplicates, pending; several minutes) against a started
# bin/topupd. Results: bench/results/standard.{json,txt,svg}.
bench: deps build
	$(GO) test -run XXX -bench . -benchmem ./engine/ ./transports/... ./persistence/
	$(GO) build -o $(BIN)/ ./cmd/topupbench
	$(BIN)/topupbench -engine-bin $(BIN)/topupd -out bench/results standard

# bench-smoke: every topupbench workload at small sizes (about a minute);
# fails on any correctness violation. Results: bench/results/smoke.{json,txt,svg}.
.PHONY: bench-smoke
bench-smoke: deps build
	$(GO) build -o $(BIN)/ ./cmd/topupbench
	$(BIN)/topupbench -engine-bin $(BIN)/topupd -out bench/results smoke

clean:
	rm -rf $(BIN)
