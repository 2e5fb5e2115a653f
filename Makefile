# ebs-csi-c — one non-recursive Makefile.
#
# Each module lists its sources in <module>/module.mk, included below; objects go
# under build/. Two variants are built from the same sources:
#   build/          the release programs (-O2; gRPC linked statically where it pays)
#   build/asan/     AddressSanitizer + UndefinedBehaviorSanitizer, used by `make test`
# Unit tests are found by name: tests/<module>/test_*.c, one program each, linked
# with that module's library and everything below it in the layering.
#
# `make deps` installs the Debian packages the build and tests need; `make run`
# and `make test` run it first when anything is missing.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)

BUILD   := build
ASAN    := $(BUILD)/asan
GEN     := $(BUILD)/gen
CC      ?= cc
PY      := /usr/bin/python3

ifeq ($(V),1)
Q :=
else
Q := @
endif
# Quiet lines: "  CC  file.c"
say = $(if $(Q),@printf '  %-6s %s\n' '$(1)' '$(2)')

# Libraries, each through pkg-config; expanded lazily so that `make deps` can
# install pkg-config itself before the first compile.
PKG_ALL     = grpc libprotobuf-c libcurl openssl blkid mount expat jansson libmicrohttpd
pkg_cflags  = $(if $(strip $(1)),$(shell pkg-config --cflags $(1)))
pkg_libs    = $(if $(strip $(1)),$(shell pkg-config --libs $(1)))

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
BASEFLAGS := -std=c11 -D_GNU_SOURCE -I. -I$(GEN) $(WARN) -MMD -MP -g -pthread
CFLAGS_REL  = $(BASEFLAGS) -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong $(EXTRA_CFLAGS)
CFLAGS_ASAN = $(BASEFLAGS) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined $(EXTRA_CFLAGS)
LDFLAGS_ASAN := -fsanitize=address,undefined -pthread

DEFS_VERSION = -DEBS_VERSION='"$(VERSION)"' -DEBS_GIT_COMMIT='"$(GIT_COMMIT)"' -DEBS_BUILD_DATE='"$(BUILD_DATE)"'
# The version is compiled into cmd/ebs-csi-driver.c: rebuild it when the commit
# (or the dirty state) changes, which make cannot see from the sources alone.
VERSION_STAMP := $(BUILD)/version.stamp
$(shell mkdir -p $(BUILD) && (echo '$(VERSION) $(GIT_COMMIT)' | cmp -s - $(VERSION_STAMP) || echo '$(VERSION) $(GIT_COMMIT)' > $(VERSION_STAMP)))

# ---- module source lists ---------------------------------------------------
COMMON_SRCS :=
CSIPROTO_SRCS :=
CLOUD_SRCS :=
NODE_SRCS :=
CONTROLLER_SRCS :=
CMD_DRIVER_SRCS :=
CMD_LIB_SRCS :=
EC2SIM_SRCS :=
EC2SIM_LIB_SRCS :=
MODULE_PKGS_cloud :=
MODULE_PKGS_node :=
K8S_SRCS :=
MODULE_PKGS_k8s :=
include common/module.mk
include csi-proto/module.mk
-include cloud/module.mk
-include k8s/module.mk
-include node/module.mk
-include controller/module.mk
-include cloud/ec2sim/module.mk
include cmd/module.mk

# Generated protobuf-c code: csi.proto and the well-known types it imports.
PROTO_WKT  := google/protobuf/wrappers google/protobuf/timestamp
GEN_SRCS   := $(GEN)/csi.pb-c.c $(foreach p,$(PROTO_WKT),$(GEN)/$(p).pb-c.c)
GEN_HDRS   := $(GEN_SRCS:.c=.h)

# Layering (see DESIGN.md §2): each library and what it may link against.
LIB_common     := common
LIB_cloud      := cloud common
LIB_node       := node common
LIB_controller := controller cloud common
LIB_csi-proto  := csi-proto controller node cloud common
LIB_k8s        := k8s cloud common
LIB_cmd        := cmd csi-proto controller node k8s cloud common
LIB_ec2sim     := ec2sim cloud common
PKGS_common     :=
PKGS_cloud      = $(MODULE_PKGS_cloud)
PKGS_node       = $(MODULE_PKGS_node)
PKGS_controller = libprotobuf-c $(MODULE_PKGS_cloud)
PKGS_csi-proto  = grpc libprotobuf-c $(MODULE_PKGS_cloud) $(MODULE_PKGS_node)
PKGS_k8s        = $(MODULE_PKGS_k8s) $(MODULE_PKGS_cloud)
PKGS_cmd        = $(PKGS_csi-proto) $(MODULE_PKGS_k8s) libmicrohttpd
PKGS_ec2sim     = libmicrohttpd jansson $(MODULE_PKGS_cloud)

SRCS_common     = $(COMMON_SRCS)
SRCS_cloud      = $(CLOUD_SRCS)
SRCS_node       = $(NODE_SRCS)
SRCS_controller = $(CONTROLLER_SRCS)
SRCS_csi-proto  = $(CSIPROTO_SRCS) $(GEN_SRCS)
SRCS_k8s        = $(K8S_SRCS)
SRCS_cmd        = $(CMD_LIB_SRCS)
SRCS_ec2sim     = $(EC2SIM_LIB_SRCS)
MODULES := common cloud k8s node controller csi-proto cmd ec2sim

objs = $(patsubst %.c,$(1)/obj/%.o,$(patsubst $(GEN)/%,gen/%,$(2)))
libpath = $(1)/lib$(2).a

# ---- top-level targets ----------------------------------------------------
.DEFAULT_GOAL := all
.PHONY: all help deps check-deps run demo test unit integration bench soak clean fmt layering

all: $(BUILD)/ebs-csi-driver $(if $(strip $(EC2SIM_SRCS)),$(BUILD)/ebs-ec2-sim)  ## Build build/ebs-csi-driver and build/ebs-ec2-sim (release)

help:  ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-zA-Z_-]+):.*## (.*)/  \1\t\2/' | expand -t 18

# Debian packages for build, tests and benchmarks. Keep in step with README.
DEB_PKGS := build-essential pkg-config git libgrpc-dev protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev \
	libcurl4-openssl-dev libssl-dev libblkid-dev libmount-dev libexpat1-dev libjansson-dev libmicrohttpd-dev \
	libcmocka-dev e2fsprogs xfsprogs util-linux btrfs-progs dosfstools cryptsetup-bin lvm2 fdisk python3-grpcio python3-grpc-tools python3-pytest python3-boto3 \
	prometheus clang python3-yaml
DEPS_TOOLS := pkg-config protoc-c cc mkfs.ext4 mkfs.xfs mkfs.btrfs mkfs.vfat cryptsetup pvcreate sfdisk promtool clang losetup
DEPS_CHECK = { for t in $(DEPS_TOOLS); do command -v $$t >/dev/null || exit 1; done; \
	pkg-config --exists $(PKG_ALL) cmocka || exit 1; \
	test -f /usr/include/google/protobuf/wrappers.proto || exit 1; \
	$(PY) -c 'import grpc, grpc_tools, pytest, boto3, yaml' 2>/dev/null || exit 1; }

check-deps:
	@$(DEPS_CHECK) && echo "all build and test dependencies are installed"

deps:  ## Install the Debian packages the build and tests need (apt-get, as root)
	@if ( $(DEPS_CHECK) ) >/dev/null 2>&1; then :; else \
		echo "installing Debian packages: $(DEB_PKGS)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $(DEB_PKGS); fi
	@# The manifest validator comes from npm (tests/deploy); Debian's nodejs only
	@# when the machine has no node of its own, whose npm it would conflict with.
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
	@sh tests/deploy/install-validator.sh || echo "deploy validator not installed: its tests will skip"

run: deps  ## Build and start the driver in `all` mode on ./run/csi.sock, on the embedded EC2 simulator
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh tools/run-local.sh $(RUN_ARGS)

demo: deps  ## One volume's whole life against the driver `make run` serves (run that first, as root)
	@$(PY) tools/demo.py

test: deps  ## Run every test: sanitizer unit tests, then integration (pytest)
	@$(MAKE) --no-print-directory test-build
	@$(PY) tests/run_all.py --build $(BUILD)

test-build: $(BUILD)/ebs-csi-driver $(ASAN)/ebs-csi-driver $(if $(strip $(EC2SIM_SRCS)),$(ASAN)/ebs-ec2-sim) unit-build

bench: deps  ## Benchmarks into bench/results.md: memory, latency, EC2 calls, attach storm, NodeStage (~5 min; BENCH_ARGS=--quick: 1 min)
	@$(MAKE) --no-print-directory all
	@$(PY) tests/bench/bench.py --driver $(BUILD)/ebs-csi-driver --sim $(BUILD)/ebs-ec2-sim --out bench/results.md $(BENCH_ARGS)

soak: deps  ## Full stress runs, as root: 500 faulty lifecycles, 50 kill -9 runs, simulator kill, 5 x 1000-call load
	@$(MAKE) --no-print-directory all $(ASAN)/ebs-csi-driver
	@$(PY) tests/stress/soak.py --lifecycles 500 --concurrency 16 --crash-runs 50 --calls 1000 --bursts 5 $(SOAK_ARGS)

clean:  ## Remove build/
	rm -rf $(BUILD)

layering:  ## Check that modules include only what DESIGN.md allows
	@sh tests/layering.sh

# ---- generated protobuf-c code ---------------------------------------------
$(GEN)/csi.pb-c.c $(GEN)/csi.pb-c.h: csi-proto/csi.proto | $(GEN)/google/protobuf/wrappers.pb-c.h $(GEN)/google/protobuf/timestamp.pb-c.h
	$(call say,PROTOC,$<)
	$(Q)mkdir -p $(GEN) && protoc-c --c_out=$(GEN) -Icsi-proto -I/usr/include $<

$(GEN)/google/protobuf/%.pb-c.c $(GEN)/google/protobuf/%.pb-c.h: /usr/include/google/protobuf/%.proto
	$(call say,PROTOC,$<)
	$(Q)mkdir -p $(GEN) && protoc-c --c_out=$(GEN) -I/usr/include $<

# ---- compile rules (one per variant) -----------------------------------------
GEN_CFLAGS := -Wno-unused-parameter

$(BUILD)/obj/gen/%.o: $(GEN)/%.c | $(GEN_HDRS)
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS_REL) $(GEN_CFLAGS) $(call pkg_cflags,libprotobuf-c) -c $< -o $@
$(ASAN)/obj/gen/%.o: $(GEN)/%.c | $(GEN_HDRS)
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS_ASAN) $(GEN_CFLAGS) $(call pkg_cflags,libprotobuf-c) -c $< -o $@

# Module objects: the module's pkg-config cflags; version macros for cmd/ and csi-proto/.
module_of = $(firstword $(subst /, ,$(1)))
# tests/<module>/x.c compiles with <module>'s flags; cloud/ec2sim/ is its own module.
src_module = $(if $(filter tests,$(call module_of,$(1))),$(word 2,$(subst /, ,$(1))),$(if $(filter cloud/ec2sim/%,$(1)),ec2sim,$(call module_of,$(1))))
obj_cflags = $(call pkg_cflags,$(PKGS_$(call src_module,$(1)))) $(DEFS_VERSION)

$(BUILD)/obj/%.o: %.c | $(GEN_HDRS)
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS_REL) $(call obj_cflags,$<) -c $< -o $@
$(ASAN)/obj/%.o: %.c | $(GEN_HDRS)
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS_ASAN) $(call obj_cflags,$<) -c $< -o $@

# Static libraries per module and variant.
define module_lib
$(BUILD)/lib$(1).a: $(call objs,$(BUILD),$(SRCS_$(1)))
	$$(call say,AR,$$@)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
$(ASAN)/lib$(1).a: $(call objs,$(ASAN),$(SRCS_$(1)))
	$$(call say,AR,$$@)
	$$(Q)mkdir -p $$(@D) && rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_lib,$(m))))

# The driver: cmd/ + every library. The release binary links gRPC, abseil,
# protobuf-c and libstdc++ statically (Debian ships the archives) and drops unused
# sections: only the pages of code actually used are mapped, which took idle RSS
# from 12.3 MB (all shared) to about 9 MB (see bench/results.md). OpenSSL stays
# shared: libcurl needs the same copy.
DRIVER_LIBS = $(foreach m,$(LIB_cmd),lib$(m).a)
DRIVER_PKGS = $(sort $(PKGS_cmd))
DRIVER_STATIC_PKGS := grpc libprotobuf-c
DRIVER_DYN_PKGS = $(filter-out $(DRIVER_STATIC_PKGS),$(DRIVER_PKGS))
$(BUILD)/ebs-csi-driver: $(call objs,$(BUILD),$(CMD_DRIVER_SRCS)) $(addprefix $(BUILD)/,$(DRIVER_LIBS))
	$(call say,LD,$@)
	$(Q)$(CC) -pthread -o $@ $^ -Wl,-Bstatic $(shell pkg-config --static --libs-only-l $(DRIVER_STATIC_PKGS) | sed -e 's/-lssl//g; s/-lcrypto//g; s/-ldl//g; s/-lrt//g; s/-pthread//g; s/-latomic//g; s/-Wl,--push-state,--as-needed//; s/-Wl,--pop-state//') \
		-Wl,-Bdynamic $(if $(strip $(DRIVER_DYN_PKGS)),$(call pkg_libs,$(DRIVER_DYN_PKGS))) -lssl -lcrypto -Wl,-Bstatic -lstdc++ -Wl,-Bdynamic -lm -ldl -lrt -latomic -Wl,--gc-sections -Wl,-O1
$(ASAN)/ebs-csi-driver: $(call objs,$(ASAN),$(CMD_DRIVER_SRCS)) $(addprefix $(ASAN)/,$(DRIVER_LIBS))
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ASAN) -o $@ $^ $(call pkg_libs,$(DRIVER_PKGS))

# The EC2 + IMDS simulator: cloud/ec2sim/ (EC2SIM_SRCS holds its main).
$(BUILD)/ebs-ec2-sim: $(call objs,$(BUILD),$(EC2SIM_SRCS)) $(addprefix $(BUILD)/,$(foreach l,$(LIB_ec2sim),lib$(l).a))
	$(call say,LD,$@)
	$(Q)$(CC) -pthread -o $@ $^ $(call pkg_libs,$(PKGS_ec2sim))
$(ASAN)/ebs-ec2-sim: $(call objs,$(ASAN),$(EC2SIM_SRCS)) $(addprefix $(ASAN)/,$(foreach l,$(LIB_ec2sim),lib$(l).a))
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ASAN) -o $@ $^ $(call pkg_libs,$(PKGS_ec2sim))

$(BUILD)/obj/cmd/ebs-csi-driver.o $(ASAN)/obj/cmd/ebs-csi-driver.o: $(VERSION_STAMP)

# ---- unit tests -----------------------------------------------------------------
# tests/<module>/test_*.c → build/asan/tests/<module>/test_*, linked with the module's
# layer and cmocka. tests/<module>/helper_*.c are linked into every test of that module.
UNIT_TEST_SRCS := $(foreach m,$(MODULES),$(wildcard tests/$(m)/test_*.c))
UNIT_TESTS     := $(patsubst %.c,$(ASAN)/%,$(UNIT_TEST_SRCS))
define unit_test
$(ASAN)/$(basename $(1)): $(ASAN)/obj/$(basename $(1)).o $(call objs,$(ASAN),$(wildcard tests/$(2)/helper_*.c)) $(addprefix $(ASAN)/,$(foreach l,$(LIB_$(2)),lib$(l).a))
	$$(call say,LD,$$@)
	$$(Q)mkdir -p $$(@D) && $$(CC) $$(LDFLAGS_ASAN) -o $$@ $$^ $$(call pkg_libs,cmocka $$(PKGS_$(2)) $$(TEST_PKGS_$(2)))
endef
$(foreach t,$(UNIT_TEST_SRCS),$(eval $(call unit_test,$(t),$(call module_of,$(patsubst tests/%,%,$(t))))))
$(ASAN)/obj/tests/%.o: CFLAGS_ASAN += $(call pkg_cflags,cmocka)
# Libraries only tests link (stub servers and the like), per module.
TEST_PKGS_cloud := libmicrohttpd

unit-build: $(UNIT_TESTS)
unit: deps  ## Run the C unit tests only (sanitizer build)
	@$(MAKE) --no-print-directory unit-build
	@$(PY) tests/run_all.py --build $(BUILD) --only unit
integration: deps  ## Run the pytest integration tests only
	@$(MAKE) --no-print-directory $(ASAN)/ebs-csi-driver $(ASAN)/ebs-ec2-sim
	@$(PY) tests/run_all.py --build $(BUILD) --only integration

# Fuzzing (make fuzz): last, because its rules use the lists and macros above.
-include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
