# Chorus - one non-recursive GNU Makefile.
#
#   make                 build everything into build/ (build-san/ with SANITIZE=1)
#   make check           build and run every test; ends with "N passed, N failed"
#   make check SANITIZE=1  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz            time-bounded libFuzzer runs (clang), FUZZ_SECONDS each
#   make bench           benchmarks (figures, never assertions)
#   make sim-soak SEEDS=N  the ring simulator over N random seeds
#   make netns-soak EPISODES=N  N random fault episodes on daemons in network
#                        namespaces (root; NETNS_DAEMONS=5, SEED=)
#   make install         PREFIX=/usr/local DESTDIR=
#   make V=1             show the commands
#
# CC, CFLAGS, CPPFLAGS, LDFLAGS, PREFIX and DESTDIR are honoured.

CC ?= cc
CFLAGS ?= -O2 -g
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
FUZZ_SECONDS ?= 60

# The strict warnings of OpenBSD's ntpd, as errors.
WARNINGS := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-Wmissing-declarations -Wshadow -Wpointer-arith -Wcast-qual \
	-Wsign-compare -Wformat=2 -Wundef -Wno-unused-parameter \
	-Wno-format-nonliteral

CHECK_BOTH := $(if $(SANITIZE),,1)
ifeq ($(SANITIZE),1)
B ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
else
B ?= build
SANFLAGS :=
ifeq ($(SANITIZE),0)
override SANITIZE :=
endif
endif

ALL_CPPFLAGS := -Iinclude -Isrc -Itests -D_GNU_SOURCE $(CPPFLAGS)
ALL_CFLAGS := -std=c11 $(WARNINGS) -MMD -MP $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)
# libcrypto (OpenSSL): the HMAC authentication method of the handshake,
# in the daemon and in libchorus (src/proto/auth_hmac.c).
LIBS := -lpthread -lcrypto
# Libraries of the log programs (zlib and zstd for compression, libcrypto
# for the stream ids of a spool of several groups).
LOG_LIBS ?= -lzstd -lz -lcrypto
# OpenSSL's TLS library: chorusd's TLS port (src/daemon/tls.c) and
# libchorus's "tls:" addresses (src/lib/sp_tls.c), so every program that
# links libcore.a or libchorus. (libcrypto, in LIBS, also serves HMAC
# authentication and the sealing of ring datagrams.)
TLS_LIBS ?= -lssl -lcrypto

ifeq ($(V),1)
Q :=
else
Q := @
endif

PROTO_SRC := $(wildcard src/proto/*.c)
UTIL_SRC := $(wildcard src/util/*.c)
DAEMON_SRC := $(filter-out src/daemon/main.c,$(wildcard src/daemon/*.c))
LIB_SRC := $(wildcard src/lib/*.c)
TOOL_SRC := $(wildcard src/tools/*.c)
# The log pipeline: src/log/main_NAME.c is the program chorus-NAME; the
# other files of src/log/ are its modules (in libcore.a, for the tests).
LOG_SRC := $(filter-out src/log/main_%.c,$(wildcard src/log/*.c))
LOG_MAIN := $(wildcard src/log/main_*.c)
# The ring core (pure; in libcore.a) and its deterministic simulator
# (tests/sim/: libsim.a for the tests, main.c is the ring-sim program).
RING_SRC := $(wildcard src/ring/*.c)
# chorus-stats' modules (in libcore.a); src/stats/main_stats.c is the
# program build/chorus-stats. Its HTML report page is kept as readable
# files in src/stats/html/ and compiled in as byte arrays
# (scripts/embed.sh writes them as C).
STATS_SRC := $(filter-out src/stats/main%.c,$(wildcard src/stats/*.c))
STATS_HTML := src/stats/html/report.html src/stats/html/report.css \
	src/stats/html/report.js
STATS_HTML_C := $(B)/gen/stats_html.c
SIM_SRC := $(filter-out tests/sim/main.c,$(wildcard tests/sim/*.c))
SEEDS ?= 100000

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
picobj = $(patsubst %.c,$(B)/pic/%.o,$(1))

CORE_A := $(B)/libcore.a
SIM_A := $(B)/libsim.a
RING_SIM := $(B)/ring-sim
LIBCHORUS_A := $(B)/libchorus.a
LIBCHORUS_SO := $(B)/libchorus.so.1
CHORUSD := $(B)/chorusd
TOOLS := $(patsubst src/tools/%.c,$(B)/%,$(TOOL_SRC)) \
	$(patsubst src/log/main_%.c,$(B)/chorus-%,$(LOG_MAIN)) $(B)/chorus-stats
# Daemons go to sbin, everything else to bin.
SBIN_PROGS := $(CHORUSD) $(B)/chorus-logd

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BIN := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(INTEG_SRC))
INTEG_HELPERS := tests/integration/harness.c
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(B)/tests/fuzz/%-replay,$(FUZZ_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
# Programs of the network-namespace tests (tests/netns/*.c).
NETNS_SRC := $(wildcard tests/netns/*.c)
NETNS_BIN := $(patsubst tests/netns/%.c,$(B)/tests/netns/%,$(NETNS_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))

.PHONY: all check test-bins fuzz bench install uninstall clean deps sim-soak netns-soak
.DEFAULT_GOAL := all
# Keep intermediate objects, so a second make has nothing to do.
.SECONDARY:

all: $(CHORUSD) $(LIBCHORUS_A) $(LIBCHORUS_SO) $(TOOLS)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(B)/pic/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC PIC  $<")
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(CORE_A): $(call obj,$(PROTO_SRC) $(UTIL_SRC) $(DAEMON_SRC) $(LOG_SRC) $(RING_SRC) \
		$(STATS_SRC)) $(STATS_HTML_C:.c=.o)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(STATS_HTML_C): $(STATS_HTML) scripts/embed.sh
	@mkdir -p $(@D)
	@$(if $(Q),echo "  EMBED   $@")
	$(Q)sh scripts/embed.sh stats/html_assets.h $(STATS_HTML) > $@.tmp && mv $@.tmp $@

$(STATS_HTML_C:.c=.o): $(STATS_HTML_C)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(SIM_A): $(call obj,$(SIM_SRC))
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(RING_SIM): $(call obj,tests/sim/main.c) $(SIM_A) $(CORE_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(LIBCHORUS_A): $(call picobj,$(LIB_SRC) $(PROTO_SRC))
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBCHORUS_SO): $(call picobj,$(LIB_SRC) $(PROTO_SRC))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libchorus.so.1 $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TLS_LIBS)
	$(Q)ln -sf libchorus.so.1 $(B)/libchorus.so

$(CHORUSD): $(call obj,src/daemon/main.c) $(CORE_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TLS_LIBS)

$(B)/chorus-%: $(call obj,src/tools/chorus-%.c) $(CORE_A) $(LIBCHORUS_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TLS_LIBS)

$(B)/chorus-%: $(call obj,src/log/main_%.c) $(CORE_A) $(LIBCHORUS_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(LOG_LIBS) $(TLS_LIBS)

$(B)/chorus-stats: $(call obj,src/stats/main_stats.c) $(CORE_A) $(LIBCHORUS_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(LOG_LIBS) $(TLS_LIBS)

$(B)/tests/unit/%: $(call obj,tests/unit/%.c tests/t.c) $(SIM_A) $(CORE_A) $(LIBCHORUS_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(LOG_LIBS) $(TLS_LIBS)

$(B)/tests/integration/%: $(call obj,tests/integration/%.c tests/t.c $(INTEG_HELPERS)) $(CORE_A) $(LIBCHORUS_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(LOG_LIBS) $(TLS_LIBS)

$(B)/tests/netns/%: $(call obj,tests/netns/%.c) $(LIBCHORUS_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TLS_LIBS)

$(B)/tests/fuzz/%-replay: $(call obj,tests/fuzz/%.c tests/fuzz/replay.c) $(CORE_A) $(LIBCHORUS_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(LOG_LIBS) $(TLS_LIBS)

$(B)/bench/%: $(call obj,bench/%.c) $(CORE_A) $(LIBCHORUS_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TLS_LIBS)

# Debian packages the build and the tests need; installed when missing.
deps:
	$(Q)sh tests/deps.sh

# bench/stats_gen makes the logs of the chorus-stats tests.
test-bins: all $(UNIT_BIN) $(INTEG_BIN) $(FUZZ_REPLAY) $(RING_SIM) $(NETNS_BIN) \
	$(B)/bench/stats_gen

# `make check` runs the suite twice: as built, and under AddressSanitizer
# and UndefinedBehaviorSanitizer. SANITIZE=1 or SANITIZE=0 runs one.
ifeq ($(CHECK_BOTH),1)
check: deps test-bins
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 test-bins
	$(Q)sh tests/run.sh build build-san
else
check: deps test-bins
	$(Q)sh tests/run.sh $(B)
endif

# libFuzzer needs clang and its runtime; each target runs FUZZ_SECONDS.
FUZZ_LINK_SRC := $(PROTO_SRC) $(UTIL_SRC) $(DAEMON_SRC) $(LOG_SRC) $(LIB_SRC) $(RING_SRC) \
	$(STATS_SRC) $(STATS_HTML_C)
build-fuzz/%: tests/fuzz/%.c $(FUZZ_LINK_SRC)
	@mkdir -p $(@D)
	$(Q)clang $(ALL_CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(FUZZ_LINK_SRC) $(LIBS) $(LOG_LIBS) $(TLS_LIBS)

fuzz:
	$(Q)FUZZ=1 sh tests/deps.sh
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BIN)
	$(Q)for f in $(FUZZ_BIN); do n=$$(basename $$f); \
		mkdir -p build-fuzz/corpus/$$n tests/fuzz/corpus/$$n; \
		echo "fuzzing $$n for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=tests/fuzz/corpus/$$n/crash- \
			build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; done

# Any number of random simulator seeds (make check runs a fixed share).
sim-soak: $(RING_SIM)
	$(Q)$(RING_SIM) soak --seeds $(SEEDS)

# Any number of random fault episodes (make check runs a fixed list).
EPISODES ?= 50
NETNS_DAEMONS ?= 5
netns-soak: all $(NETNS_BIN)
	$(Q)CHORUS_BUILD=$(CURDIR)/$(B) sh tests/netns/episodes.sh --daemons $(NETNS_DAEMONS) \
		--clients 1 --name netns.soak --soak $(EPISODES) $(if $(SEED),--seed $(SEED))

bench: all $(BENCH_BIN) $(NETNS_BIN)
	$(Q)sh bench/run.sh $(B)
	$(Q)sh bench/log_bench.sh $(B)
	$(Q)sh bench/logd_bench.sh $(B)
	$(Q)sh bench/stats_bench.sh $(B)
	$(Q)sh bench/tls_bench.sh $(B)
	$(Q)$(B)/bench/bench_ring
	$(Q)sh bench/ring_failover.sh $(B)
	$(Q)sh bench/netns_throughput.sh $(B)
	$(Q)sh bench/netns_failover.sh $(B)
	$(Q)$(B)/bench/bench_ring_sec
	$(Q)sh bench/netns_ring_sec.sh $(B)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(SBIN_PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 755 $(filter-out $(SBIN_PROGS),$(TOOLS)) $(DESTDIR)$(BINDIR)/
	install -m 644 $(LIBCHORUS_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIBCHORUS_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libchorus.so.1 $(DESTDIR)$(LIBDIR)/libchorus.so
	install -m 644 include/sp.h include/chorus.h $(DESTDIR)$(INCDIR)/
	for s in 1 3 5 8; do for f in man/*.$$s; do [ -e "$$f" ] && \
		install -m 644 $$f $(DESTDIR)$(MANDIR)/man$$s/; done; done; true

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(SBIN_PROGS))) \
		$(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(filter-out $(SBIN_PROGS),$(TOOLS)))) \
		$(DESTDIR)$(LIBDIR)/libchorus.a $(DESTDIR)$(LIBDIR)/libchorus.so.1 \
		$(DESTDIR)$(LIBDIR)/libchorus.so $(DESTDIR)$(INCDIR)/sp.h $(DESTDIR)$(INCDIR)/chorus.h
	for s in 1 3 5 8; do for f in man/*.$$s; do \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$f); done; done

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
