# The top-up order engine. `make run` and `make test` are the two commands.
GO        ?= go
BIN       := bin
PKGS      := ./...
CONFIG    ?= config/example.yaml
GOTESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build run test test-short lint deps sim bench fuzz clean

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

test-short: deps
	$(GO) test -short -count=1 $(PKGS)

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)

fuzz:
	$(GO) test -run XXX -fuzz FuzzFrameEnd -fuzztime 30s ./transports/sockmod/
	$(GO) test -run XXX -fuzz FuzzDecodeResult -fuzztime 30s ./transports/sockmod/
	$(GO) test -run XXX -fuzz FuzzParseOrder -fuzztime 30s ./transports/operapi/

bench:
	$(GO) test -run XXX -bench . -benchmem ./engine/ ./transports/... ./persistence/

clean:
	rm -rf $(BIN)
