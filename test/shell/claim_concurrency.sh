#!/usr/bin/env bash
# Eight connections claiming from one queue at once never get the same task.
set -euo pipefail
export PGDATABASE=claim_test
psql -X -q -d postgres -c "CREATE DATABASE claim_test"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS claim_test" >/dev/null 2>&1 || true' EXIT
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION workflow;
CREATE FUNCTION one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN workflow.activity('Work', input, 'contended'); END $$;
SELECT workflow.register_workflow('one', 'one(jsonb)');
SELECT count(workflow.start_workflow('one', jsonb_build_object('i', i))) FROM generate_series(1, 2000) i;
CREATE TABLE claims (task_id bigint, worker int);
SQL
script=$(mktemp)
cat >"$script" <<'SQL'
INSERT INTO claims SELECT task_id, :client_id FROM workflow.claim_activities('contended', 'w' || :client_id, 3);
SQL
pgbench -n -c 8 -j 2 -t 100 -f "$script" >/dev/null
rm -f "$script"
read -r total distinct workers <<<"$(psql -X -A -t -F ' ' -c "SELECT count(*), count(DISTINCT task_id), count(DISTINCT worker) FROM claims")"
echo "claimed $total tasks ($distinct distinct) across $workers connections"
[[ $total == 2000 && $distinct == 2000 && $workers == 8 ]] || { echo "FAIL: duplicate or missing claims"; exit 1; }
echo "ok: 8 concurrent claimers, 2000 tasks, no task claimed twice"
