#!/bin/sh
# Exits 0 but prints something that is not JSON.
cat >/dev/null
echo 'this is {not json'
