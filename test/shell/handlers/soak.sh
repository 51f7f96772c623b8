#!/bin/sh
# Handler of the fault-injection soak (test/t/090_soak.pl), for every
# activity.  Input {"k": K, "n": N}; result {"v": N*100+K, ...}.
# Flaky but deterministic per (activity, attempt): about a quarter of
# first and second attempts fail retryably (exit 75), so retries converge;
# activity "Doom" then fails for good (exit 65).  SOAK_DELAY (seconds)
# makes each attempt take that long, so that work is in flight when the
# test breaks things; otherwise no external program runs.
read -r input || true
n=${input#*\"n\": }
n=${n%%[!0-9]*}
k=${input#*\"k\": }
k=${k%%[!0-9]*}
if [ -n "${SOAK_DELAY:-}" ]; then
	sleep "$SOAK_DELAY"
fi
h=$(( (n * 7919 + k * 104729 + ATTEMPT * 13) % 100 ))
if [ "$ATTEMPT" -lt 3 ] && [ "$h" -lt 25 ]; then
	echo "flaky failure of $ACTIVITY attempt $ATTEMPT (h=$h)" >&2
	exit 75
fi
if [ "$ACTIVITY" = Doom ]; then
	echo "planned failure of $ACTIVITY" >&2
	exit 65
fi
printf '{"v": %d, "act": "%s", "attempt": %s}\n' $((n * 100 + k)) "$ACTIVITY" "$ATTEMPT"
