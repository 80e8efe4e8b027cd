# ovnkube — see README.md. The two commands a fresh Debian 12 machine needs are
# `make run` (the sandbox) and `make test` (the whole suite); every prerequisite
# below is idempotent and cached under _output/.
SHELL := /bin/bash
OUT   := $(CURDIR)/_output
BIN   := $(OUT)/bin
GO    ?= go
export PATH := $(BIN):$(PATH)

# Debian packages the harness, the sandbox and the metrics check run.
DEBS := ovn-central ovn-host openvswitch-switch etcd-server prometheus socat \
        iproute2 ethtool iputils-ping curl procps openssl
DEB_CMDS := ovsdb-server ovn-northd ovn-nbctl ovn-sbctl ovs-vswitchd ovn-controller etcd promtool socat curl openssl
K8S_BINS := $(addprefix $(BIN)/,kube-apiserver kube-controller-manager kube-scheduler kubectl)
SANDBOX_DIR ?= $(OUT)/sandbox
NODES ?= 2
# Extra ovnkube-sandbox up arguments, e.g. a dual-stack cluster:
# SANDBOX_ARGS="--cluster-subnets 10.244.0.0/16/24,fd00:10:244::/48/64 --service-cidrs 10.96.0.0/16,fd00:10:96::/112"
SANDBOX_ARGS ?=

.PHONY: all build models debs k8s-bins tools test unit integration fuzz bench run stop fmt vet lint clean help

all: build

help:
	@echo "make run [DETACH=1] [NODES=2]  start the sandbox cluster (Ctrl-C or make stop tears it down)"
	@echo "make stop            tear the sandbox down"
	@echo "make test            install prerequisites and run the whole suite"
	@echo "make build           build ovnkube binaries into _output/bin"
	@echo "make models          regenerate ovsdb-models from the pinned schemas"
	@echo "make bench           run the scale benchmarks (docs/performance.md)"
	@echo "make fuzz [FUZZTIME=1000000x]  run every fuzz target of the input parsers (docs/testing.md)"

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

models:
	$(GO) run ./ovsdb-models/cmd/gen-models -root ovsdb-models

# debs installs OVN/OVS, etcd, promtool and socat when any of them is missing.
debs:
	@missing=0; for c in $(DEB_CMDS); do command -v $$c >/dev/null || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  echo ">> installing Debian packages: $(DEBS)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEBS); \
	fi

# k8s-bins builds kube-apiserver, kube-controller-manager, kube-scheduler and
# kubectl from the Go module proxy once (~15 min cold on 2 cores).
k8s-bins: $(K8S_BINS)
$(K8S_BINS):
	OUT=$(BIN) test/tools/build-k8s.sh $(notdir $@)

tools: debs k8s-bins

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^ovsdb-models/')); \
	if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

vet:
	$(GO) vet ./...

# lint adds staticcheck (fetched from the Go module proxy) to vet.
STATICCHECK_VERSION := v0.8.2
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

unit:
	$(GO) test -count=1 ./pkg/... ./cmd/... ./ovsdb-models/...

integration: tools build
	OVNKUBE_BIN_DIR=$(BIN) $(GO) test -p 1 -count=1 -timeout 20m ./test/...

# One package at a time (-p 1): the e2e and integration packages each run
# their own API server and OVN, and the userspace datapath's timing (a ping
# every 50 ms across a master restart) must not compete with another
# package's control plane for the two cores.
# The unit packages run with the race detector; the integration and e2e
# packages drive the built binaries (their own processes) instead.
test: tools build fmt vet
	OVNKUBE_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 15m ./pkg/... ./cmd/... ./ovsdb-models/...
	OVNKUBE_BIN_DIR=$(BIN) $(GO) test -p 1 -count=1 -timeout 25m ./test/...

# fuzz runs each native Go fuzz target of the parsers of outside input
# (docs/testing.md) for $(FUZZTIME) (an execution count such as 1000000x,
# or a duration such as 30s), with one fuzzing worker: the machine has two
# cores. go test -fuzz takes one target of one package per invocation. A
# failing input is written under the package's testdata/fuzz/<target>/ and
# then runs as a seed in the package's plain go test; every target is run
# and the failed ones are listed at the end. The seed corpora need no make
# target: they run in every go test of their package (make unit, make test).
FUZZTIME ?= 1000000x
FUZZ_TARGETS := \
	./pkg/kube:FuzzParsePodNetworks \
	./pkg/kube:FuzzParseNodeSubnets \
	./pkg/kube:FuzzParseNodeID \
	./pkg/kube:FuzzParseChassisID \
	./pkg/kube:FuzzParseL3GatewayConfig \
	./pkg/kube:FuzzParseJoinAddrs \
	./pkg/config:FuzzParseClusterSubnet \
	./pkg/config:FuzzParsePrefix \
	./pkg/config:FuzzParsePortRange \
	./pkg/config:FuzzConfigFile \
	./pkg/reconcile:FuzzParseRowID \
	./pkg/reconcile:FuzzDecodeParents \
	./pkg/controller/networkpolicy:FuzzParsePeerKeyID \
	./pkg/controller/networkpolicy:FuzzParseLogging \
	./pkg/controller/multicast:FuzzParseEnabled \
	./pkg/node/cni:FuzzDecodeRequest \
	./cmd/ovn-k8s-cni-overlay:FuzzRequest

fuzz:
	@failed=; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t#*:}; \
	  echo ">> $$name ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -parallel=1 $$pkg || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz targets failed:$$failed"; exit 1; fi

bench: tools build
	OVNKUBE_BIN_DIR=$(BIN) $(GO) run ./test/bench $(BENCH_ARGS)

run: tools build
	$(BIN)/ovnkube-sandbox up --dir $(SANDBOX_DIR) --bin-dir $(BIN) --nodes $(NODES) $(if $(DETACH),--detach) $(SANDBOX_ARGS)

stop:
	@if [ -x $(BIN)/ovnkube-sandbox ]; then $(BIN)/ovnkube-sandbox down --dir $(SANDBOX_DIR); fi

clean: stop
	rm -rf $(SANDBOX_DIR)
