# workflow: durable workflows inside PostgreSQL (PGXS build)

EXTENSION = workflow
EXTVERSION = 0.2

MODULE_big = workflow
OBJS = \
	src/workflow.o \
	src/util.o \
	src/history.o \
	src/sandbox.o \
	src/replay.o \
	src/commands.o \
	src/saga.o \
	src/lifecycle.o \
	src/runs.o \
	src/client.o \
	src/tasks.o \
	src/timers.o \
	src/notify.o \
	src/scheduler.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)
PG_CPPFLAGS = -I$(srcdir)/src -Wall -Werror -Wmissing-prototypes
SHLIB_LINK_INTERNAL = $(libpq)

# pg_regress and the isolation tester read test/sql, test/specs and
# test/expected; test/expected is a link to the top-level expected/.
REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test
ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --load-extension=$(EXTENSION)
TAP_TESTS = 1

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(wildcard $(shell $(PG_CONFIG) --pgxs 2>/dev/null))
ifeq ($(PGXS),)
# First run on a fresh machine: the server headers are not there yet.
all install test demo bench: deps
deps:
	./tools/deps.sh
	$(MAKE) $(MAKECMDGOALS)
else
include $(PGXS)

# PGXS does not track header dependencies.
$(OBJS): $(wildcard src/*.h)

.PHONY: deps test demo bench clean-local

deps:
	./tools/deps.sh

# The programs have PGXS sub-Makefiles of their own: worker/ (the
# workflow-worker, installed into $(pg_config --bindir)) and bench/ (the
# load driver, never installed).
SUBDIRS = worker bench

.PHONY: all-programs install-worker clean-programs

all: all-programs
all-programs:
	for dir in $(SUBDIRS); do $(MAKE) -C $$dir PG_CONFIG='$(PG_CONFIG)' all || exit; done

install: install-worker
install-worker:
	$(MAKE) -C worker PG_CONFIG='$(PG_CONFIG)' install

clean: clean-local clean-programs
clean-programs:
	for dir in $(SUBDIRS); do $(MAKE) -C $$dir PG_CONFIG='$(PG_CONFIG)' clean || exit; done
clean-local:
	rm -rf tmp_check results output_iso log regression.diffs regression.out

test: deps
	$(MAKE) all
	$(MAKE) install
	./tools/run-tests.sh

demo: deps
	$(MAKE) all
	$(MAKE) install
	./tools/demo.sh

bench: deps
	$(MAKE) all
	$(MAKE) install
	./tools/bench.sh
endif
