# The PGXS part of a libpq program's Makefile (worker/, bench/): set
# PROGRAM, OBJS and PG_CPPFLAGS, then include this file.

PG_LIBS_INTERNAL = $(libpq_pgport)

# LLVM bitcode serves JIT inlining of server modules; a program has no use
# for it.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The server's LIBS (libxml2, PAM, LZ4, ...) are what the server links
# with; a libpq client needs none of them but -lm, nor their -dev packages.
LIBS := $(filter -lm,$(LIBS))
