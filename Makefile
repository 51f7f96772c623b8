# workflow: durable workflows inside PostgreSQL (PGXS build)

EXTENSION = workflow
EXTVERSION = 0.2

MODULE_big = workflow
OBJS = \
	src/workflow.o \
	src/core/spi.o \
	src/core/checks.o \
	src/core/json.o \
	src/core/events.o \
	src/core/history.o \
	src/core/wakeup.o \
	src/core/registry.o \
	src/core/sandbox.o \
	src/core/shmem.o \
	src/core/notify.o \
	src/core/sessions.o \
	src/core/cron.o \
	src/core/flowstate.o \
	src/core/await.o \
	src/core/citus.o \
	src/model/tasks.o \
	src/model/leases.o \
	src/model/retention.o \
	src/model/timers.o \
	src/model/runs.o \
	src/model/lifecycle.o \
	src/model/flow.o \
	src/model/schedules.o \
	src/model/reset.o \
	src/model/ops.o \
	src/engine/replay.o \
	src/engine/histcache.o \
	src/engine/apply.o \
	src/engine/saga.o \
	src/api/frame.o \
	src/api/client.o \
	src/api/commands.o \
	src/api/worker.o \
	src/api/schedules.o \
	src/api/reset.o \
	src/api/replay_check.o \
	src/api/ops.o \
	src/api/retention.o \
	src/bgw/launcher.o \
	src/bgw/scheduler.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)
PG_CPPFLAGS = -I$(srcdir)/src -Wall -Werror -Wmissing-prototypes
SHLIB_LINK_INTERNAL = $(libpq)

# Tests, on PGXS's rails: "make installcheck" (after "make install") runs
#   REGRESS    test/sql/NAME.sql, compared with expected/NAME.out
#   ISOLATION  test/specs/NAME.spec, compared with expected/NAME.out
#   TAP_TESTS  test/t/*.pl (PostgreSQL::Test::Cluster, test/t/WorkflowTest.pm)
# PostgreSQL 15's pg_regress has no --expecteddir, so both drivers run with
# --inputdir=test and read test/expected, a symbolic link to ../expected.
# REGRESS and ISOLATION run against a running server (PGHOST, PGPORT, and
# PGUSER a superuser; shared_preload_libraries = 'workflow'); the TAP tests
# start servers of their own.  "make test" runs all of it on a throwaway
# cluster (test/run.sh).  Some only: make installcheck REGRESS=bad_input
# ISOLATION= TAP_TESTS=, or PROVE_TESTS=test/t/010_bgworker.pl.
REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test
ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --load-extension=$(EXTENSION)
TAP_TESTS = 1

# pg_config from PATH, as PGXS expects.  On Debian /usr/bin/pg_config answers
# for the newest postgresql-server-dev-NN installed; to build for another
# server, name its own: make PG_CONFIG=/usr/lib/postgresql/NN/bin/pg_config
PG_CONFIG ?= pg_config
PGXS := $(wildcard $(shell $(PG_CONFIG) --pgxs 2>/dev/null))
ifeq ($(PGXS),)
# No server headers yet (a fresh machine).  "make" alone never installs
# packages: "make deps" does, and the targets that run a cluster call it
# first, then start again with the headers in place.
.PHONY: all install installcheck deps test demo bench test-citus
all install installcheck $(if $(WF_AFTER_DEPS),test demo bench test-citus):
	@echo "$(PG_CONFIG) --pgxs finds no PGXS: install the server headers with 'make deps'" \
		"(tools/deps.sh), or set PG_CONFIG to a server's pg_config" >&2
	@exit 1
deps:
	./tools/deps.sh
ifeq ($(WF_AFTER_DEPS),)
test demo bench test-citus: deps
	$(MAKE) $@ WF_AFTER_DEPS=1
endif
else
include $(PGXS)

# A pg_config whose server is not installed builds for a server nobody runs.
ifeq ($(wildcard $(bindir)/postgres),)
$(warning $(PG_CONFIG) is PostgreSQL $(VERSION), whose server is not in $(bindir); \
	set PG_CONFIG to the pg_config of the server you run)
endif

# The tests' databases (expected/settings_roles.out names the regress one).
CONTRIB_TESTDB = workflow_regress
ISOLATION_TESTDB = workflow_isolation

# The TAP tests live in test/t, not in PGXS's t/: as pgvector does, redefine
# prove_installcheck (what PGXS's installcheck runs for TAP_TESTS) with
# test/t/*.pl, and offer it as a target too.  PROVE_TESTS picks files,
# PROVE_FLAGS passes options (--verbose).
PG_PROVE_FLAGS += -I $(srcdir)/test/t
define prove_installcheck
echo "+++ tap install-check +++" && \
rm -rf '$(CURDIR)'/tmp_check && \
$(MKDIR_P) '$(CURDIR)'/tmp_check && \
cd $(srcdir) && \
   TESTDIR='$(CURDIR)' PATH="$(bindir):$$PATH" PGPORT='6$(DEF_PGPORT)' \
   PG_REGRESS='$(top_builddir)/src/test/regress/pg_regress' \
   $(PROVE) $(PG_PROVE_FLAGS) $(PROVE_FLAGS) $(if $(PROVE_TESTS),$(PROVE_TESTS),test/t/*.pl)
endef

.PHONY: prove_installcheck installcheck-not-root installcheck-server

prove_installcheck: installcheck-not-root
	$(prove_installcheck)

# Say what is wrong before any suite runs.
installcheck: $(if $(TAP_TESTS),installcheck-not-root) \
	$(if $(strip $(REGRESS)$(ISOLATION)),installcheck-server)

# PostgreSQL::Test::Cluster runs initdb and postgres, which refuse root.
installcheck-not-root:
	@if [ "$$(id -u)" = 0 ]; then \
		echo "make installcheck: the TAP tests (test/t) start PostgreSQL servers, which refuse to run as root." >&2; \
		echo "Run 'make test' instead (it runs make installcheck as the unprivileged user wfpg against a" >&2; \
		echo "throwaway cluster), or run make installcheck as an unprivileged user (TAP_TESTS= leaves the TAP tests out)." >&2; \
		exit 1; \
	fi

# REGRESS and ISOLATION need a running server with the library preloaded.
installcheck-server:
	@$(bindir)/pg_isready -q || { \
		echo "make installcheck: no server accepts connections at PGHOST=$${PGHOST:-(default socket)} PGPORT=$${PGPORT:-$(DEF_PGPORT)}." >&2; \
		echo "Start one with shared_preload_libraries = 'workflow' and point PGHOST, PGPORT and PGUSER (a superuser) at it, or run 'make test'." >&2; \
		exit 1; }
	@preload=$$($(bindir)/psql -X -A -t -d postgres -c 'SHOW shared_preload_libraries') || exit 1; \
	case ",$$(echo "$$preload" | tr -d ' ')," in *,workflow,*) ;; *) \
		echo "make installcheck: the server at PGHOST=$${PGHOST:-(default socket)} PGPORT=$${PGPORT:-$(DEF_PGPORT)} has shared_preload_libraries = '$$preload';" >&2; \
		echo "the tests need 'workflow' there (or run 'make test', which starts such a server)." >&2; \
		exit 1;; esac

# PGXS does not track header dependencies.
$(OBJS): $(wildcard src/*/*.h)

.PHONY: deps test demo bench clean-local

# The Debian packages to build and test with (never run by "make" alone).
deps:
	./tools/deps.sh

# The programs have PGXS sub-Makefiles of their own: worker/ (the
# workflow-worker) and ui/ (workflow-ui, the web UI; needs libmicrohttpd),
# both installed into $(pg_config --bindir), and bench/ (the load driver,
# never installed).
SUBDIRS = worker ui bench

.PHONY: all-programs install-worker install-ui clean-programs

all: all-programs
all-programs:
	for dir in $(SUBDIRS); do $(MAKE) -C $$dir PG_CONFIG='$(PG_CONFIG)' all || exit; done

install: install-worker install-ui
install-worker:
	$(MAKE) -C worker PG_CONFIG='$(PG_CONFIG)' install
install-ui:
	$(MAKE) -C ui PG_CONFIG='$(PG_CONFIG)' install

clean: clean-local clean-programs
clean-programs:
	for dir in $(SUBDIRS); do $(MAKE) -C $$dir PG_CONFIG='$(PG_CONFIG)' clean || exit; done
clean-local:
	rm -rf tmp_check results output_iso log regression.diffs regression.out

# As root: packages, build, install, then every suite on throwaway clusters
# (test/run.sh, which runs the PGXS suites through make installcheck as the
# unprivileged user wfpg).
test: deps
	$(MAKE) all
	$(MAKE) install
	PG_CONFIG='$(PG_CONFIG)' ./test/run.sh

demo: deps
	$(MAKE) all
	$(MAKE) install
	PG_CONFIG='$(PG_CONFIG)' ./tools/demo.sh

bench: deps
	$(MAKE) all
	$(MAKE) install
	PG_CONFIG='$(PG_CONFIG)' ./tools/bench.sh

# As root, not part of "make test": the extension on a three-node Citus
# cluster (doc/citus.md, test/citus/run.sh).  Citus is not packaged for
# Debian: if it is not installed for $(PG_CONFIG), it is built and
# installed from ../shared/citus (the Citus 13.2.2 source and build.sh).
CITUS_SRC ?= $(abspath $(CURDIR)/../shared/citus)
.PHONY: test-citus
test-citus: deps
	$(MAKE) all
	$(MAKE) install
	@if [ ! -f "$$('$(PG_CONFIG)' --pkglibdir)/citus.so" ]; then \
		if [ ! -x '$(CITUS_SRC)/build.sh' ]; then \
			echo "test-citus: Citus is not installed and $(CITUS_SRC)/build.sh is missing" \
				"(set CITUS_SRC to the folder with citus-13.2.2.tar.gz and build.sh)" >&2; \
			exit 1; \
		fi; \
		PG_CONFIG="$$(command -v '$(PG_CONFIG)')" '$(CITUS_SRC)/build.sh' /tmp/citus-build || exit; \
	fi
	PG_CONFIG='$(PG_CONFIG)' ./test/citus/run.sh
endif

# As root: "make test" on each PostgreSQL major of PG_VERSIONS, 15 on this
# machine and the others in cached Debian chroots (tools/matrix.sh), then a
# table of the results.  Needs no server headers here.
PG_VERSIONS ?= 15 17 18
.PHONY: test-matrix
test-matrix:
	./tools/matrix.sh $(PG_VERSIONS)

# As root: build the Debian package (debian/, pg_buildext) in a chroot,
# install it into a clean one and use it there (tools/package-test.sh).
.PHONY: test-package
test-package:
	./tools/package-test.sh
