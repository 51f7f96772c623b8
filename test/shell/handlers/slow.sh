#!/bin/sh
# Sleeps for $1 seconds (default 2), then completes.
cat >/dev/null
sleep "${1:-2}"
printf '{"slept": %s, "attempt": %s}\n' "${1:-2}" "$ATTEMPT"
