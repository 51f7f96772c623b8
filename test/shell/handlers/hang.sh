#!/bin/sh
# Never finishes on its own; the sleep is recognisable for the tests.
cat >/dev/null
exec sleep 4242
