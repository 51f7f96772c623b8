#!/bin/sh
# Fails for good (EX_DATAERR).
cat >/dev/null
echo "card number is invalid" >&2
exit 65
