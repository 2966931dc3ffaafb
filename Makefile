# ssid — build, test, demo, benchmark.
#
#   make            build the daemon, ssictl, ssi-loadgen and the libraries
#   make demo       the one-command demo (installs what is missing)
#   make check      the whole test suite (installs what is missing)
#   make check-asan the unit, daemon and fault suites under AddressSanitizer + UBSan
#   make bench      the benchmarks (not part of check)
#   make bench-ab BASE=<rev> [PAIRS=2]  this tree against an older revision, alternated
#   make fuzz       build the libFuzzer targets and run each briefly
#   make check-fresh the README's two commands in a fresh bookworm chroot (root; not part of check)
#   make install    DESTDIR=... PREFIX=/usr/local
#   make man        the man pages, generated from --help and the config key table
#   make deb        the Debian package (build/deb/), from deploy/debian/
#
# Out-of-tree: everything lands in $(B) (build/ by default, build/asan for SAN=1).

empty :=
space := $(empty) $(empty)
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
VERSION := 0.1.0
SAN ?= 0
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

ifeq ($(SAN),1)
B ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT := -O1
else
B ?= build
SANFLAGS :=
OPT := -O2
endif

PKGS := rdkafka hiredis jansson libsystemd libmicrohttpd
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-format-nonliteral -Wpointer-arith -Wvla
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DSSID_VERSION=\"$(VERSION)\"
CFLAGS ?= $(OPT) -g
CFLAGS += -std=c11 $(WARN) $(SANFLAGS) -fPIC
LDFLAGS += $(SANFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

# The scoring engine: pure C, no I/O, only jansson.
ENGINE_SRC := $(sort $(wildcard src/ssi_*.c))
# The daemon's modules: Kafka, Redis, config, systemd glue.
DAEMON_SRC := $(sort $(wildcard src/ssid_*.c))
# ssictl's own files (one per command group): not the daemon's, so not in libssid.a.
CTL_SRC := $(sort $(wildcard src/ssictl_*.c))
# The activity-stream generator (ssi-loadgen, the tests, the benchmarks): pure, like the engine.
GEN_SRC := $(sort $(wildcard src/ssigen_*.c))
ENGINE_OBJ := $(ENGINE_SRC:src/%.c=$(B)/obj/%.o)
DAEMON_OBJ := $(DAEMON_SRC:src/%.c=$(B)/obj/%.o)
CTL_OBJ := $(CTL_SRC:src/%.c=$(B)/obj/%.o)
GEN_OBJ := $(GEN_SRC:src/%.c=$(B)/obj/%.o)

TEST_COMMON_SRC := $(sort $(wildcard tests/common/*.c))

PROGRAMS := $(patsubst src/main_%.c,$(B)/%,$(wildcard src/main_*.c))

.PHONY: all deps check check-engine check-demo check-systemd check-unit check-daemon check-cluster check-cluster-a check-cluster-b check-cluster3 check-fault check-asan check-valgrind \
	valgrind-unit valgrind-daemon valgrind-unit-early valgrind-daemon-late test-binaries check-format \
	format cppcheck fuzz fuzz-run bench bench-ab demo install clean check-fresh man deb check-deb check-k8s

all: $(B)/libssi.a $(B)/libssid.a $(B)/libssigen.a $(PROGRAMS)

deps:
	@deploy/install-deps.sh build

# Header dependencies come from the compiler (-MMD). Engine and generator
# objects see jansson's flags only; check-engine refuses any include that does I/O.
$(ENGINE_OBJ) $(GEN_OBJ): PKG_CFLAGS = $(shell pkg-config --cflags jansson 2>/dev/null)
$(B)/obj/%.o: src/%.c | $(B)/obj
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(wildcard $(B)/obj/*.d)

$(B)/obj $(B)/tests:
	@mkdir -p $@

$(B)/libssi.a: $(ENGINE_OBJ)
	$(AR) rcs $@ $^

$(B)/libssid.a: $(DAEMON_OBJ) | $(B)/obj
	@rm -f $@
	$(AR) rcs $@ $^ $(if $(DAEMON_OBJ),,/dev/null) 2>/dev/null || $(AR) rcs $@

$(B)/libssigen.a: $(GEN_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# A program links its own objects and libraries (prerequisites below), then
# the daemon's and the engine's.
$(B)/%: src/main_%.c $(B)/libssid.a $(B)/libssi.a
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(filter %.o %/libssigen.a,$^) \
		$(B)/libssid.a $(B)/libssi.a $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

$(B)/ssictl: $(CTL_OBJ)
# ssi-loadgen: the generator, and ssid_kafka's bootstrap-file reader.
$(B)/ssi-loadgen: $(B)/libssigen.a

# Check test binaries: one per tier (unit, daemon, fault), each test file
# contributes suites; the daemon and fault tiers run the ssid binary, and the
# daemon tier runs ssictl in-process (its objects, TEST_OBJ_daemon).
TEST_INCLUDES_unit := -Itests/unit -Itests/daemon
TEST_INCLUDES_daemon := -Itests/unit -Itests/daemon
TEST_INCLUDES_fault := -Itests/fault
TEST_NEEDS_unit :=
TEST_NEEDS_daemon := $(B)/ssid
TEST_NEEDS_fault := $(B)/ssid
TEST_OBJ_daemon := $(CTL_OBJ)

.SECONDEXPANSION:
$(B)/tests/check_%: $$(sort $$(wildcard tests/$$*/*.c)) $(TEST_COMMON_SRC) \
		$$(wildcard tests/common/*.h tests/$$*/*.h) $(B)/libssigen.a $(B)/libssid.a \
		$(B)/libssi.a $$(TEST_OBJ_$$*) | $(B)/tests $$(TEST_NEEDS_$$*)
	$(CC) $(CPPFLAGS) -Itests/common $(TEST_INCLUDES_$*) $(PKG_CFLAGS) $(CFLAGS) \
		-Wno-missing-prototypes -o $@ $(sort $(wildcard tests/$*/*.c)) $(TEST_COMMON_SRC) \
		$(TEST_OBJ_$*) $(B)/libssigen.a $(B)/libssid.a $(B)/libssi.a $(LDFLAGS) $(PKG_LIBS) \
		$(CHECK_LIBS) \
		-lm -lpthread

# Every test binary of this build ($(B)).
test-binaries: $(B)/tests/check_unit $(B)/tests/check_daemon $(B)/tests/check_fault

# --- the second README command ------------------------------------------------
check:
	@deploy/install-deps.sh test
	$(MAKE) -j2 all test-binaries
	$(MAKE) check-unit
	@# Mostly waiting on brokers, Redis and timeouts: side by side on two cores.
	$(MAKE) -j2 check-daemon check-fault
	$(MAKE) check-format check-engine cppcheck check-systemd check-deb check-k8s
	@# The fuzzers, the demo and the cluster runs wait mostly on I/O.
	$(MAKE) -j4 fuzz check-demo check-cluster-a check-cluster-b check-cluster3 \
		FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	$(MAKE) check-asan
	$(MAKE) check-valgrind

check-systemd:
	tests/systemd/check-unit.sh

# The engine (src/ssi_*, include/ssi_*) does no I/O: it may include only the
# C library's pure headers, jansson, pthread (per-thread arenas) and SSE2.
# Nor does the generator (src/ssigen_*, include/ssigen.h).
ENGINE_HEADERS_OK := assert ctype emmintrin errno float inttypes jansson limits math pthread \
	sanitizer/asan_interface stdarg stdatomic stdbool stddef stdint stdio stdlib string
check-engine:
	@bad=$$(grep -Ho '^#include <[^>]*>' src/ssi_*.c src/ssi_*.h include/ssi_*.h \
		src/ssigen_*.c src/ssigen_*.h include/ssigen.h | \
		sed 's/#include <\(.*\)\.h>$$/\1/' | \
		grep -v -E ':($(subst $(space),|,$(strip $(ENGINE_HEADERS_OK))))$$' || true); \
	if [ -n "$$bad" ]; then echo "the engine or the generator includes what does I/O:"; echo "$$bad"; exit 1; fi; \
	echo "engine and generator includes: ok"

check-demo: all
	tests/demo/check-demo.sh

check-unit: $(B)/tests/check_unit
	CK_FORK=yes $(B)/tests/check_unit

# Tests tagged "server" start a heavy external server (prometheus): once, natively.
# Tests tagged "cluster3" (200,000 events through a failover and a reshard): once, in check-cluster3.
check-daemon: $(B)/tests/check_daemon $(B)/ssid
	CK_FORK=yes CK_EXCLUDE_TAGS="cluster3$(if $(filter 1,$(SAN)), server)" $(B)/tests/check_daemon

# The daemon suites that touch Redis, each against one-node Redis Clusters
# (SSID_TEST_REDIS_CLUSTER, tests/common/fixture.h): a command or MULTI/EXEC of
# ssid or ssictl whose keys span hash slots fails with CROSSSLOT. The network
# tests run in the ssictl suite. Runs every suite, and fails if one failed.
CLUSTER_SUITES = history_store store rank rank_read integration poison process ssictl \
	ranks_e2e decay_alerts rebuild
check-cluster: check-cluster-a check-cluster-b

# check-cluster in two halves of about equal length, which make check runs side by side.
CLUSTER_SUITES_A = ssictl rank history_store rank_read process
cluster_run = SSID_TEST_REDIS_CLUSTER=1 CK_FORK=yes T_SUITES="$(1)" $(B)/tests/check_daemon
check-cluster-a: $(B)/tests/check_daemon $(B)/ssid
	$(call cluster_run,$(CLUSTER_SUITES_A))
check-cluster-b: $(B)/tests/check_daemon $(B)/ssid
	$(call cluster_run,$(filter-out $(CLUSTER_SUITES_A),$(CLUSTER_SUITES)))

# The end-to-end and insight suites with ssid on a 3-master/3-replica Redis
# Cluster (SSID_TEST_REDIS_CLUSTER=3: redis.cluster = yes, routed by slot),
# but their tests that stop and restart one redis-server (tag restart: a
# cluster's master is killed and restarted in cluster_faults instead),
# ssictl's commands (the ssictl suite but its network case, which counts one
# server's commands and restarts it), then cluster_faults (tag cluster3):
# 200,000 events through a master's kill -9 and through a reshard. The
# cluster client's own suite (redis_cluster) runs in check-daemon.
CLUSTER3_SUITES = integration ranks_e2e decay_alerts rebuild onboarding forecast_alerts
check-cluster3: $(B)/tests/check_daemon $(B)/ssid
	@for s in $(CLUSTER3_SUITES); do \
		echo "check-cluster3: suite $$s"; \
		SSID_TEST_REDIS_CLUSTER=3 CK_FORK=yes CK_EXCLUDE_TAGS=restart CK_RUN_SUITE=$$s \
			$(B)/tests/check_daemon || exit 1; \
	done
	@for c in ctl ctl_rank ctl_exit; do \
		echo "check-cluster3: ssictl case $$c"; \
		SSID_TEST_REDIS_CLUSTER=3 CK_FORK=yes CK_RUN_SUITE=ssictl CK_RUN_CASE=$$c \
			$(B)/tests/check_daemon || exit 1; \
	done
	CK_FORK=yes CK_RUN_SUITE=cluster_faults $(B)/tests/check_daemon

# Fetches the broker's jars once (deploy/.cache), then runs against a broker it starts.
check-fault: $(B)/tests/check_fault $(B)/ssid
	deploy/kafka-broker.sh fetch
	CK_FORK=yes $(B)/tests/check_fault

# The three suites side by side: the daemon and fault suites wait mostly on I/O.
check-asan:
	$(MAKE) -j2 SAN=1 all test-binaries
	deploy/kafka-broker.sh fetch
	$(MAKE) -j3 SAN=1 check-unit check-daemon check-fault

VALGRIND = valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite

# Two halves of about equal length side by side: the unit suite then the daemon
# suites of VALGRIND_DAEMON_EARLY, and every other daemon suite (the list of
# tests/daemon/main.c, so a new suite is never left out) but cluster_faults,
# whose every test is tagged cluster3.
DAEMON_SUITES = $(patsubst %_suite,%,$(shell grep -o '[a-z_0-9]*_suite\b' tests/daemon/main.c))
VALGRIND_DAEMON_EARLY = config notify log history_store store rank rank_read
VALGRIND_DAEMON_SUITES = $(filter-out cluster_faults,$(DAEMON_SUITES))
check-valgrind:
	$(MAKE) -j2 valgrind-unit-early valgrind-daemon-late

# The generator's statistical tests (tag "statistical") draw millions of
# events: 30 times slower under valgrind, they run natively and under ASan.
valgrind-unit: $(B)/tests/check_unit
	CK_FORK=no CK_EXCLUDE_TAGS=statistical $(VALGRIND) $(B)/tests/check_unit

valgrind_daemon = T_SUITES="$(1)" CK_FORK=no CK_EXCLUDE_TAGS="server cluster3" \
	$(VALGRIND) $(B)/tests/check_daemon
valgrind-daemon: $(B)/tests/check_daemon $(B)/ssid
	$(call valgrind_daemon,$(VALGRIND_DAEMON_SUITES))

valgrind-unit-early: valgrind-unit $(B)/tests/check_daemon $(B)/ssid
	$(call valgrind_daemon,$(VALGRIND_DAEMON_EARLY))

valgrind-daemon-late: $(B)/tests/check_daemon $(B)/ssid
	$(call valgrind_daemon,$(filter-out $(VALGRIND_DAEMON_EARLY),$(VALGRIND_DAEMON_SUITES)))

FORMAT_FILES = $(wildcard src/*.c include/*.h tests/*/*.c tests/*/*.h)
check-format:
	@out=$$(for f in $(FORMAT_FILES); do clang-format --dry-run --Werror $$f 2>&1 >/dev/null \
		|| echo $$f; done); if [ -n "$$out" ]; then echo "not clang-formatted:"; \
		echo "$$out"; exit 1; fi; echo "format: ok"

format:
	clang-format -i $(FORMAT_FILES)

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Iinclude src

# --- fuzzing (clang + libFuzzer) ----------------------------------------------
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 20
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -D_GNU_SOURCE \
	-DSSID_VERSION=\"$(VERSION)\"

build/fuzz/%: tests/fuzz/fuzz_%.c $(ENGINE_SRC) $(DAEMON_SRC)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(ENGINE_SRC) $(DAEMON_SRC) $(PKG_LIBS) -lm -lpthread

fuzz:
	@deploy/install-deps.sh fuzz
	$(MAKE) fuzz-run

fuzz-run: $(FUZZ_TARGETS:%=build/fuzz/%)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus-$$t; \
		echo "fuzz $$t for $(FUZZ_SECONDS)s"; \
		build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			-artifact_prefix=build/fuzz/$$t- build/fuzz/corpus-$$t tests/fuzz/corpus/$$t \
			2>build/fuzz/$$t.log || { tail -40 build/fuzz/$$t.log; exit 1; }; \
		grep -E '^Done [0-9]+ runs' build/fuzz/$$t.log | tail -1; \
	done

# --- benchmarks ---------------------------------------------------------------
$(B)/bench_engine: tests/bench/bench_engine.c $(B)/libssigen.a $(B)/libssid.a $(B)/libssi.a
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(B)/libssigen.a \
		$(B)/libssid.a $(B)/libssi.a $(LDFLAGS) $(PKG_LIBS) -lm

# The daemon's benchmark clients need only librdkafka and jansson.
$(B)/bench_consume $(B)/bench_latency: $(B)/%: tests/bench/%.c | $(B)/obj
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(PKG_LIBS) -lm

bench:
	@deploy/install-deps.sh bench
	$(MAKE) all $(B)/bench_engine $(B)/bench_consume $(B)/bench_latency
	$(B)/bench_engine
	BENCH_BUILD=$(B) tests/bench/bench_daemon.sh

# Two builds in the same minutes (the host's speed drifts by more than most
# changes cost): BASE's, built in a clone of its own, and this tree's.
bench-ab:
	@test -n "$(BASE)" || { echo "make bench-ab BASE=<git revision> [PAIRS=2]" >&2; exit 2; }
	@deploy/install-deps.sh bench
	$(MAKE) SAN= B=build all build/bench_consume build/bench_latency
	tests/bench/ab.sh $(BASE) $(or $(PAIRS),2)

# --- man pages, install, the Debian package ----------------------------------
# Generated from the programs' --help and `ssid --list-keys` (the config key
# table) plus the prose in deploy/debian/man/*.in: they cannot drift.
MAN_PAGES := $(B)/man/ssid.8 $(B)/man/ssid.conf.5 $(B)/man/ssictl.1 $(B)/man/ssi-loadgen.1 \
	$(B)/man/ssi-watch.1
MKMAN_DEPS := deploy/debian/mkman.sh deploy/debian/changelog | $(B)/man
man: $(MAN_PAGES)
$(B)/man:
	@mkdir -p $@
$(B)/man/ssid.conf.5: deploy/debian/man/ssid.conf.5.in $(B)/ssid $(MKMAN_DEPS)
	deploy/debian/mkman.sh keys $(B)/ssid $< > $@.tmp && mv $@.tmp $@
$(B)/man/%.8: deploy/debian/man/%.8.in $(B)/% $(MKMAN_DEPS)
	deploy/debian/mkman.sh help $(B)/$* $< > $@.tmp && mv $@.tmp $@
$(B)/man/%.1: deploy/debian/man/%.1.in $(B)/% $(MKMAN_DEPS)
	deploy/debian/mkman.sh help $(B)/$* $< > $@.tmp && mv $@.tmp $@

# The one list of installed files: deploy/debian/build-deb.sh packages exactly this.
install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/ssid $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 config/ssid.conf config/model.json $(DESTDIR)$(SYSCONFDIR)/ssid/
	sed 's|/usr/local/bin|$(PREFIX)/bin|g' systemd/ssid.service \
		> $(DESTDIR)$(UNITDIR)/ssid.service
	install -m 0644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(filter %.8,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man8/

# dpkg-deb, no debhelper: a hardened build of its own in build/deb/build,
# `make install` into build/deb/root, then build/deb/ssid_VERSION_ARCH.deb.
deb:
	@deploy/install-deps.sh deb
	VERSION=$(VERSION) MAKE="$(MAKE)" deploy/debian/build-deb.sh

# The man pages against --help and config/ssid.conf, lintian, and the package
# installed into a throwaway root where `ssid --check-config` must pass.
check-deb: deb
	tests/deb/check-man.sh build/deb/build
	tests/deb/check-deb.sh build/deb/ssid_$(VERSION)_$$(dpkg --print-architecture).deb

# Every manifest of deploy/k8s/ parsed and checked against what ssid serves.
check-k8s: $(B)/ssid
	@deploy/install-deps.sh deb
	tests/deb/check-k8s.py $(B)/ssid

clean:
	rm -rf build

# --- the first README command -------------------------------------------------
demo:
	@deploy/demo.sh

# --- the two README commands on a fresh machine ---------------------------------
# debootstrap + chroot, as root; see tests/fresh/check-fresh.sh. Not part of check.
check-fresh:
	tests/fresh/check-fresh.sh
