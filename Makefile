# vmsweep - build, check, sanitizers, install, demo, bench.
#
#   make            build/vmsweep, build/providers/vmsweep-<type>.so,
#                   build/vmsweep-sim
#   make check      deps, -Werror build, unit tests under ASan+UBSan,
#                   threaded tests under TSan, integration tests (ASan
#                   builds of vmsweep, the providers and the simulator)
#   make demo       deps, build, a real cleanup against the simulator
#   make lint       banned functions and clang-format
#   make install    PREFIX=/usr/local DESTDIR=
#
# Libraries come from pkg-config.  WERROR=0 turns warnings back into
# warnings for a local experiment; CI and `make check` keep -Werror.

VERSION   := 0.1.0
CC        ?= cc
PKG_CONFIG ?= pkg-config
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
PLUGINDIR ?= $(LIBDIR)/vmsweep
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DOCDIR    ?= $(PREFIX)/share/doc/vmsweep
WERROR    ?= 1
NPROC     := $(shell nproc 2>/dev/null || echo 2)

B := build

WARN := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wwrite-strings -Wformat=2 -Wundef -Wvla
ifeq ($(WERROR),1)
WARN += -Werror
endif

PKGS      := libcurl jansson yaml-0.1 sqlite3
SIM_PKGS  := libmicrohttpd jansson yaml-0.1
TEST_PKGS := cmocka libmicrohttpd

pkg_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkg_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

BASE_CFLAGS := $(WARN) -D_GNU_SOURCE -Isrc -Iproviders \
	-DVS_VERSION='"$(VERSION)"' -DVS_PLUGINDIR='"$(PLUGINDIR)"'
OPT       ?= -O2 -g
CFLAGS    ?=
LDFLAGS   ?=

ALL_PKG_CFLAGS := $(call pkg_cflags,$(PKGS) $(SIM_PKGS) $(TEST_PKGS))

# Build flavours: the plain build, ASan+UBSan, TSan.
FLAVOUR_plain :=
FLAVOUR_asan  := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
FLAVOUR_tsan  := -fsanitize=thread -fno-omit-frame-pointer

# ---------------------------------------------------------------------
# Sources.

CLI_SRC   := src/main.c $(wildcard src/cli_*.c)
CORE_SRC  := $(filter-out $(CLI_SRC),$(wildcard src/*.c))
PROVIDERS := $(notdir $(patsubst %/,%,$(dir $(wildcard providers/*/*.c))))
PROVIDERS := $(sort $(filter-out common,$(PROVIDERS)))
# Compiled into every provider we ship (each .so keeps its own copy, local
# to it through providers/provider.map): the core's buffer and the helpers
# in providers/common/.  A third-party provider needs none of them.
PROVIDER_COMMON := src/buf providers/common/pv_util providers/common/pv_cred \
	providers/common/pv_json
SIM_SRC   := $(wildcard tests/sim/*.c)
UNIT_TESTS := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))
# Modules whose tests also run under ThreadSanitizer.
TSAN_TESTS := $(filter pool queue log http sweep osp_auth rhv_auth vmw_session signals progress state pv_cred,$(UNIT_TESTS))

# Every unit test links the module it is named after plus these; a test
# needing more declares DEPS_<module> (a core module name, or a path
# without .c such as providers/osp/osp_parse).
COMMON := buf error timeutil log
DEPS_http   := http aimd
DEPS_config := config
DEPS_plugin := plugin config http aimd
DEPS_select := select report config
DEPS_report := report
DEPS_retry  := retry select report config
DEPS_render := render report
DEPS_metrics := metrics report
DEPS_reportdir := reportdir
DEPS_lock   := paths
DEPS_state  := state report config paths
DEPS_sweep  := sweep select report config plugin http pool queue progress state paths
DEPS_pv_util    := $(PROVIDER_COMMON)
DEPS_pv_cred    := $(PROVIDER_COMMON)
DEPS_pv_json    := $(PROVIDER_COMMON)
DEPS_osp_parse  := providers/osp/osp_parse $(PROVIDER_COMMON)
DEPS_osp_clouds := providers/osp/osp_clouds $(PROVIDER_COMMON)
DEPS_vmw_parse  := providers/vmware/vmw_parse providers/vmware/vmw_util $(PROVIDER_COMMON)
DEPS_vmw_session := providers/vmware/vmw_session providers/vmware/vmw_parse providers/vmware/vmw_util $(PROVIDER_COMMON)
DEPS_rhv_parse  := providers/rhv/rhv_parse $(PROVIDER_COMMON)
DEPS_rhv_auth   := providers/rhv/rhv_auth providers/rhv/rhv_parse $(PROVIDER_COMMON)
DEPS_osp_auth   := providers/osp/osp_auth providers/osp/osp_parse providers/osp/osp_clouds $(PROVIDER_COMMON)

obj = $(B)/$(1)/obj/$(2).o

# The circuit breaker is shared by the sweep's workers: its test runs
# under TSan too.
DEPS_sweep += breaker
TSAN_TESTS += $(filter breaker,$(UNIT_TESTS))
# So is each provider's adaptive concurrency limiter (the HTTP client
# takes its slots).
DEPS_sweep += aimd
TSAN_TESTS += $(filter aimd,$(UNIT_TESTS))

# ---------------------------------------------------------------------

.PHONY: certs all check unit tsan integration lint format install uninstall \
	clean deps demo bench conformance fuzz soak
all: $(B)/vmsweep $(foreach p,$(PROVIDERS),$(B)/providers/vmsweep-$(p).so) \
	$(if $(SIM_SRC),$(B)/vmsweep-sim)

# Compile rule per flavour: build/<flavour>/obj/<path>.o
define flavour_rules
$(B)/$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$(CC) $(BASE_CFLAGS) $(ALL_PKG_CFLAGS) $$(OPT) $(FLAVOUR_$(1)) -fPIC \
		-MMD -MP $$(CFLAGS) -c -o $$@ $$<
endef
$(foreach f,plain asan tsan,$(eval $(call flavour_rules,$(f))))

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# The binary.  -ldl for the plugin loader.
define binary_rules
$(2): $(foreach s,$(CORE_SRC) $(CLI_SRC),$(call obj,$(1),$(basename $(s))))
	@mkdir -p $$(@D)
	$$(CC) $(FLAVOUR_$(1)) $$(LDFLAGS) -o $$@ $$^ \
		$(call pkg_libs,$(PKGS)) -ldl -lpthread -lm
endef
$(eval $(call binary_rules,plain,$(B)/vmsweep))
$(eval $(call binary_rules,asan,$(B)/asan/vmsweep))

# Providers: one shared object each, from providers/<type>/*.c and the
# shared helpers.
define provider_rules
$(2)/providers/vmsweep-$(3).so: $(foreach s,$(wildcard providers/$(3)/*.c),$(call obj,$(1),$(basename $(s)))) \
	$(foreach s,$(PROVIDER_COMMON),$(call obj,$(1),$(s)))
	@mkdir -p $$(@D)
	$$(CC) -shared $(FLAVOUR_$(1)) $$(LDFLAGS) \
		-Wl,--version-script=providers/provider.map -o $$@ $$^ \
		$(call pkg_libs,jansson yaml-0.1) -lpthread -lm
endef
$(foreach p,$(PROVIDERS),$(eval $(call provider_rules,plain,$(B),$(p))))
$(foreach p,$(PROVIDERS),$(eval $(call provider_rules,asan,$(B)/asan,$(p))))

# The simulator reuses the buffer and time helpers.
SIM_DEPS := src/buf src/timeutil
define sim_rules
$(2): $(foreach s,$(SIM_SRC),$(call obj,$(1),$(basename $(s)))) \
	$(foreach d,$(SIM_DEPS),$(call obj,$(1),$(d)))
	@mkdir -p $$(@D)
	$$(CC) $(FLAVOUR_$(1)) $$(LDFLAGS) -o $$@ $$^ \
		$(call pkg_libs,$(SIM_PKGS)) -lpthread -lm
endef
$(eval $(call sim_rules,plain,$(B)/vmsweep-sim))
# The integration tests run against this one, so that a memory error in
# the simulator fails a test instead of passing unnoticed.
$(eval $(call sim_rules,asan,$(B)/asan/vmsweep-sim))
ASAN_SIM := $(if $(SIM_SRC),$(B)/asan/vmsweep-sim)

# Unit tests: build/<flavour>/tests/test_<module>.
define unit_rules
$(B)/$(1)/tests/test_$(2): $(call obj,$(1),tests/unit/test_$(2)) \
	$(foreach m,$(sort $(2) $(COMMON) $(DEPS_$(2))),$(if $(wildcard src/$(m).c),$(call obj,$(1),src/$(m)),$(if $(wildcard $(m).c),$(call obj,$(1),$(m)))))
	@mkdir -p $$(@D)
	$$(CC) $(FLAVOUR_$(1)) $$(LDFLAGS) -o $$@ $$^ \
		$(call pkg_libs,$(PKGS) $(TEST_PKGS)) -ldl -lpthread -lm
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rules,asan,$(t))))
$(foreach t,$(TSAN_TESTS),$(eval $(call unit_rules,tsan,$(t))))

# Test-only provider for the plugin loader tests (ABI match and mismatch).
$(B)/asan/testplugins/vmsweep-fake.so: tests/unit/fake_provider.c providers/provider.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(FLAVOUR_asan) -fPIC -shared -o $@ $<
$(B)/asan/testplugins/vmsweep-badabi.so: tests/unit/fake_provider.c providers/provider.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(FLAVOUR_asan) -fPIC -shared -DFAKE_ABI=999 -o $@ $<
$(B)/asan/testplugins/vmsweep-nosym.so: tests/unit/fake_provider.c providers/provider.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(FLAVOUR_asan) -fPIC -shared -DFAKE_NOSYM -o $@ $<
TEST_PLUGINS := $(if $(wildcard tests/unit/fake_provider.c),$(addprefix $(B)/asan/testplugins/vmsweep-,fake.so badabi.so nosym.so))

# Test certificates: a CA, a server certificate it signed for localhost
# and 127.0.0.1, and a self-signed one nobody trusts.
CERTS := $(B)/certs/ca.pem $(B)/certs/server.pem $(B)/certs/server.key \
	$(B)/certs/untrusted.pem $(B)/certs/untrusted.key
certs: $(CERTS)
$(CERTS) &: tests/gen-certs
	tests/gen-certs $(B)/certs
# The HTTP tests serve TLS with them (order-only: not linked).
$(B)/asan/tests/test_http $(B)/tsan/tests/test_http: | $(CERTS)

# Fuzzing, soak and valgrind: make fuzz, make soak, make valgrind; the
# fuzz harnesses' replay programs (FUZZ_REPLAY_BINS) run in make check.
include tests/reliability.mk

# ---------------------------------------------------------------------
# Tests.  tests/run-tests runs each program and prints one closing line
# "N passed, N failed".

UNIT_BINS := $(addprefix $(B)/asan/tests/test_,$(UNIT_TESTS))
TSAN_BINS := $(addprefix $(B)/tsan/tests/test_,$(TSAN_TESTS))
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS := halt_on_error=1:second_deadlock_stack=1

check: deps
	$(MAKE) -j$(NPROC) WERROR=1 all certs $(UNIT_BINS) $(TSAN_BINS) $(TEST_PLUGINS) \
		$(B)/asan/vmsweep $(foreach p,$(PROVIDERS),$(B)/asan/providers/vmsweep-$(p).so) \
		$(ASAN_SIM) \
		$(FUZZ_REPLAY_BINS)
	tests/run-tests $(UNIT_BINS) $(TSAN_BINS) $(FUZZ_REPLAY_BINS) \
		$(wildcard tests/integration/test_*.sh)

unit: $(UNIT_BINS) $(TEST_PLUGINS)
	tests/run-tests $(UNIT_BINS)
tsan: $(TSAN_BINS)
	tests/run-tests $(TSAN_BINS)
integration: all $(B)/asan/vmsweep $(foreach p,$(PROVIDERS),$(B)/asan/providers/vmsweep-$(p).so) \
	$(ASAN_SIM)
	tests/run-tests $(wildcard tests/integration/test_*.sh)

# One test: make test-<module> (ASan build).
test-%: $(B)/asan/tests/test_% $(TEST_PLUGINS)
	tests/run-tests $<

# ---------------------------------------------------------------------

# Debian packages the build, the tests and the demo need.
DEB_PACKAGES := gcc make pkg-config libcurl4-openssl-dev libjansson-dev \
	libyaml-dev libcmocka-dev libmicrohttpd-dev libsqlite3-dev openssl python3 \
	ca-certificates systemd
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
			grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else \
		echo "deps: missing Debian packages; run as root:" >&2; \
		echo "  apt-get install$$missing" >&2; exit 1; \
	fi

LINT_DIRS := src providers tests/sim tests/unit
BANNED := sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|strerror|localtime|gmtime|ctime|asctime|gets|rand|tmpnam|mktemp|strncpy
lint:
	@fail=0; \
	if grep -nEH '(^|[^_a-zA-Z0-9.>])($(BANNED))[ \t]*\(' \
		$$(find $(LINT_DIRS) -name '*.[ch]'); then \
		echo "lint: banned functions above (see docs/architecture.md)" >&2; fail=1; fi; \
	if command -v clang-format >/dev/null; then \
		clang-format --dry-run --Werror $$(find $(LINT_DIRS) -name '*.[ch]') || fail=1; \
	else echo "lint: clang-format not installed (apt-get install clang-format)" >&2; fail=1; fi; \
	exit $$fail
format:
	clang-format -i $$(find $(LINT_DIRS) -name '*.[ch]')

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSCONFDIR)/vmsweep \
		$(DESTDIR)$(DOCDIR)
	install -m 755 $(B)/vmsweep $(DESTDIR)$(BINDIR)/vmsweep
	for p in $(PROVIDERS); do install -m 644 $(B)/providers/vmsweep-$$p.so \
		$(DESTDIR)$(PLUGINDIR)/; done
	install -m 644 docs/vmsweep.1 $(DESTDIR)$(MANDIR)/man1/vmsweep.1
	install -m 644 config/vmsweep.example.yaml $(DESTDIR)$(DOCDIR)/vmsweep.example.yaml
	test -e $(DESTDIR)$(SYSCONFDIR)/vmsweep/vmsweep.yaml || \
		install -m 640 config/vmsweep.example.yaml $(DESTDIR)$(SYSCONFDIR)/vmsweep/vmsweep.yaml
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vmsweep $(DESTDIR)$(MANDIR)/man1/vmsweep.1
	rm -rf $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(DOCDIR)

demo: deps
	$(MAKE) -j$(NPROC) all
	tests/demo.sh

# Three runs of each scenario: the table shows medians (BENCH_ARGS to
# change, e.g. make bench BENCH_ARGS="--only b --repeat 5").
BENCH_ARGS ?= --repeat 3
bench: deps
	$(MAKE) all
	tests/bench/run.sh $(BENCH_ARGS)

conformance: deps
	$(MAKE) all
	tests/conformance/run.sh

clean:
	rm -rf $(B)
