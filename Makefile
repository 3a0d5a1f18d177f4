# heartbeat-go. `make demo` runs a two-node cluster on loopback; `make test`
# runs every test (root-only tests skip themselves without root).
GO       ?= go
BIN      := bin
TOOLS    := cl_status hb_standby hb_takeover ha_propagate haresources2cib
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
FUZZTIME ?= 10s
TESTFLAGS ?= -timeout 30m

.PHONY: all build test vet fmtcheck fuzz bench demo clean

all: build

build:
	$(GO) build -ldflags "-X main.Version=$(VERSION)" -o $(BIN)/heartbeat ./tools/heartbeat
	@for t in $(TOOLS); do ln -sf heartbeat $(BIN)/$$t; done

fmtcheck:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The end-to-end packages start real daemons with real timers and compare
# failover times with deadtime; they run one package at a time after the
# rest so that two cores are not shared by several clusters at once.
E2E = $(shell $(GO) list ./hb/e2e/... 2>/dev/null)
UNIT = $(filter-out $(E2E),$(shell $(GO) list ./... 2>/dev/null))

test: fmtcheck vet build
	$(GO) test $(TESTFLAGS) $(UNIT)
	$(GO) test $(TESTFLAGS) -p 1 $(E2E)

# Every fuzz target of every package, FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Go benchmarks of every package but the failover benchmark (its own
# target below: real daemons, root, minutes).
bench:
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /hb/e2e/failoverbench)

# Failover time, RSS and idle CPU of real daemons in network namespaces
# (root, about 2 minutes); not part of `make test`. See hb/e2e/failoverbench.
.PHONY: bench-failover
bench-failover:
	$(GO) test -run XXX -bench . -benchtime=1x -timeout 20m ./hb/e2e/failoverbench

demo: build
	./tools/demo.sh

clean:
	rm -rf $(BIN)
	$(GO) clean -testcache
