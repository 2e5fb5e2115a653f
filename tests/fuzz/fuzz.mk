# tests/fuzz/fuzz.mk — libFuzzer targets (clang, ASan+UBSan, coverage).
#
# Included by the root Makefile after the module lists (it uses COMMON_SRCS,
# CLOUD_SRCS…, GEN_SRCS, BASEFLAGS and PY from there). The release and asan
# libraries are gcc-compiled and carry no coverage instrumentation, so the
# sources the targets exercise are compiled again here, with clang, into
# build/fuzz/ (one archive, libfuzzsrc.a; the linker only pulls what a target
# uses). Nothing is stubbed except what would reach the network: no target
# calls a function that opens a socket.
#
#   make fuzz-build                 build every build/fuzz/fuzz_* target
#   make fuzz [FUZZ_SECONDS=60]     build, then run each target for FUZZ_SECONDS
#                                   (tests/fuzz/run_fuzz.py; non-zero on any crash)
#   make fuzz FUZZ_TARGETS="fuzz_ini fuzz_sigv4"   only those
#
# tests/integration/test_fuzz_smoke.py (in `make test`) runs every target over
# its committed corpus plus a few seconds of fuzzing.

FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_JOBS     ?= 1
FUZZ_TARGETS  ?=
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# Sources: every library source of the layers the targets reach (the programs'
# main()s and the gRPC server stay out), deduplicated (the generated code is in
# both node's and controller's lists).
FUZZ_LIB_SRCS := $(sort $(COMMON_SRCS) $(CLOUD_SRCS) $(NODE_SRCS) $(CONTROLLER_SRCS) $(K8S_SRCS) \
	$(EC2SIM_LIB_SRCS) csi-proto/pbtext.c $(GEN_SRCS))
FUZZ_PKGS     := libprotobuf-c openssl expat jansson libcurl blkid mount libmicrohttpd
# Warnings as in the main build, but not fatal for the library sources: clang
# warns about things gcc does not, and that must not break `make fuzz`. The
# targets themselves build with -Werror.
FUZZ_CFLAGS    = $(filter-out -Werror,$(BASEFLAGS)) -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link -I$(FUZZ_DIR)/gen $(call pkg_cflags,$(FUZZ_PKGS))
FUZZ_SRCS     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS     := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRCS))
FUZZ_LIB      := $(FUZZ_DIR)/libfuzzsrc.a
FUZZ_LIB_OBJS := $(call objs,$(FUZZ_DIR),$(FUZZ_LIB_SRCS))
FUZZ_OBJS     := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(FUZZ_SRCS))
# Keep the targets' objects (make would delete them as intermediates).
.SECONDARY: $(FUZZ_OBJS)

.PHONY: fuzz fuzz-build fuzz-check-clang

fuzz-check-clang:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz: $(FUZZ_CC) not found (apt-get install clang)" >&2; exit 1; }
	@echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' | \
		$(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null || \
		{ echo "make fuzz: $(FUZZ_CC) has no libFuzzer runtime (apt-get install libclang-rt-14-dev)" >&2; exit 1; }

fuzz-build: $(FUZZ_BINS)  ## Build the libFuzzer targets into build/fuzz/ (clang, ASan+UBSan)
# Check for clang and its fuzzer runtime before compiling anything.
$(FUZZ_LIB_OBJS) $(FUZZ_OBJS) $(FUZZ_DIR)/gen/csi_descriptors.inc: | fuzz-check-clang

fuzz: fuzz-build  ## Run every fuzz target for FUZZ_SECONDS (default 60) each; fails on any crash
	@$(PY) tests/fuzz/run_fuzz.py --build $(BUILD) --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS) --no-build $(FUZZ_TARGETS)

# Every message descriptor of csi.proto, for the pbtext and decoding targets.
$(FUZZ_DIR)/gen/csi_descriptors.inc: $(GEN)/csi.pb-c.h
	$(call say,GEN,$@)
	$(Q)mkdir -p $(@D) && sed -n 's/^extern const ProtobufCMessageDescriptor \([a-z0-9_]*\);$$/\&\1,/p' $< > $@.tmp && \
		test -s $@.tmp && mv $@.tmp $@

$(FUZZ_DIR)/obj/gen/%.o: $(GEN)/%.c | $(GEN_HDRS)
	$(call say,FUZZCC,$<)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-unused-parameter -c $< -o $@
$(FUZZ_DIR)/obj/%.o: %.c | $(GEN_HDRS)
	$(call say,FUZZCC,$<)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/tests/fuzz/%.o: tests/fuzz/%.c tests/fuzz/fuzz_util.h $(FUZZ_DIR)/gen/csi_descriptors.inc | $(GEN_HDRS)
	$(call say,FUZZCC,$<)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(call say,LD,$@)
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -pthread -o $@ $^ $(call pkg_libs,$(FUZZ_PKGS)) -lm
