# Reliability targets, included by the Makefile (docs/reliability.md):
#
#   make fuzz       libFuzzer (clang) on every harness in tests/fuzz/,
#                   FUZZ_SECONDS each (default 30), from a corpus seeded
#                   with the API samples, the committed seeds and the
#                   regression inputs; crashes land in build/fuzz/crashes/
#   make soak       tests/integration/test_soak.sh with SOAK_VMS VMs per
#                   provider (default 2000)
#   make valgrind   a plan, a dry run and a real run against the
#                   simulator under valgrind (plain build)
#
# make check runs every harness as a replay program (gcc, ASan+UBSan):
# build/asan/fuzz/replay_<target> feeds it tests/fuzz/regress/<target>/,
# tests/fuzz/seeds/<target>/ and the API samples.

FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out tests/fuzz/fuzz_util.c,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
VS_SHARED    ?= ../shared

# What each harness links besides itself (paths without .c): what the
# unit test of the same parser links (DEPS_<module> in the Makefile).
fuzz_paths = $(sort $(foreach m,$(1),$(if $(wildcard src/$(m).c),src/$(m),$(m))))
FUZZ_DEPS_osp_parse  = $(call fuzz_paths,$(DEPS_osp_parse) timeutil)
FUZZ_DEPS_osp_clouds = $(call fuzz_paths,$(DEPS_osp_clouds))
FUZZ_DEPS_rhv_parse  = $(call fuzz_paths,$(DEPS_rhv_parse))
FUZZ_DEPS_pv_json    = $(call fuzz_paths,$(DEPS_pv_json))
FUZZ_DEPS_vmw_parse  = $(call fuzz_paths,$(DEPS_vmw_parse) timeutil)
FUZZ_DEPS_config     = $(call fuzz_paths,$(COMMON) $(DEPS_config))
FUZZ_DEPS_report     = $(call fuzz_paths,$(COMMON) $(DEPS_report))

FUZZ_LIBS = $(call pkg_libs,$(PKGS)) -ldl -lpthread -lm

# --- replay programs (make check) -------------------------------------

FUZZ_REPLAY_BINS := $(addprefix $(B)/asan/fuzz/replay_,$(FUZZ_TARGETS))

define fuzz_replay_rules
$(B)/asan/obj/tests/fuzz/replay_$(1).o: tests/fuzz/replay.c tests/fuzz/fuzz.h
	@mkdir -p $$(@D)
	$$(CC) $(BASE_CFLAGS) $(FLAVOUR_asan) $$(OPT) \
		-DFUZZ_TARGET='"$(1)"' -c -o $$@ $$<
$(B)/asan/fuzz/replay_$(1): $(B)/asan/obj/tests/fuzz/replay_$(1).o \
	$(call obj,asan,tests/fuzz/fuzz_$(1)) $(call obj,asan,tests/fuzz/fuzz_util) \
	$(foreach d,$(FUZZ_DEPS_$(1)),$(call obj,asan,$(d)))
	@mkdir -p $$(@D)
	$$(CC) $(FLAVOUR_asan) $$(LDFLAGS) -o $$@ $$^ $$(FUZZ_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_replay_rules,$(t))))


# --- libFuzzer ---------------------------------------------------------

FUZZ_FLAGS := $(filter-out -Werror,$(BASE_CFLAGS)) $(ALL_PKG_CFLAGS) \
	-O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -Wno-format-nonliteral

define fuzz_rules
$(B)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_util.c tests/fuzz/fuzz.h \
	$(foreach d,$(FUZZ_DEPS_$(1)),$(d).c)
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $$@ tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_util.c \
		$(foreach d,$(FUZZ_DEPS_$(1)),$(d).c) $$(FUZZ_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rules,$(t))))

fuzz-build: $(addprefix $(B)/fuzz/fuzz_,$(FUZZ_TARGETS))

# Each target runs FUZZ_SECONDS from build/fuzz/corpus/<target>, which
# starts as a copy of the samples, seeds and regression inputs and keeps
# what libFuzzer adds (not committed).  A crash stops that target and
# fails make fuzz at the end; copy the input from build/fuzz/crashes/ into
# tests/fuzz/regress/<target>/ once fixed.
fuzz: fuzz-build
	@fail=""; \
	for t in $(FUZZ_TARGETS); do \
		c=$(B)/fuzz/corpus/$$t; mkdir -p $$c $(B)/fuzz/crashes/$$t; \
		cp -n $(VS_SHARED)/api/samples/* $$c/ 2>/dev/null; \
		for d in tests/fuzz/seeds/$$t tests/fuzz/regress/$$t; do \
			[ -d $$d ] && cp -n $$d/* $$c/ 2>/dev/null; done; \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
		ASAN_OPTIONS=detect_leaks=1 $(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
			-artifact_prefix=$(B)/fuzz/crashes/$$t/ $$c \
			>$(B)/fuzz/$$t.log 2>&1 || fail="$$fail $$t"; \
		grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)' \
			$(B)/fuzz/$$t.log | sed "s/^/  $$t /"; \
	done; \
	if [ -n "$$fail" ]; then \
		echo "fuzz: failures in$$fail (see $(B)/fuzz/<target>.log)" >&2; exit 1; fi

# --- soak ---------------------------------------------------------------

SOAK_VMS ?= 2000
soak: deps
	$(MAKE) -j$(NPROC) all $(B)/asan/vmsweep \
		$(foreach p,$(PROVIDERS),$(B)/asan/providers/vmsweep-$(p).so)
	SOAK_VMS=$(SOAK_VMS) tests/run-tests tests/integration/test_soak.sh

# --- valgrind -----------------------------------------------------------

valgrind: deps
	$(MAKE) -j$(NPROC) all certs
	tests/valgrind.sh

.PHONY: fuzz fuzz-build soak valgrind
