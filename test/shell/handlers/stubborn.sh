#!/bin/sh
# Ignores SIGTERM, so only SIGKILL stops it.
cat >/dev/null
trap '' TERM
sleep 4243 &
wait
