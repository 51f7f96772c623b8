#!/bin/sh
# Fails retryably (EX_TEMPFAIL) on the first attempt, then completes.
cat >/dev/null
if [ "$ATTEMPT" -eq 1 ]; then
	echo "service unavailable, try again later" >&2
	exit 75
fi
printf '{"attempt": %s}\n' "$ATTEMPT"
