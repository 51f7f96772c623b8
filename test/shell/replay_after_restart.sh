#!/usr/bin/env bash
# now(), random() and uuid() replay identically after a server restart:
# the values come from the history, not from the backend that recorded them.
set -euo pipefail
CLUSTER=${WF_CLUSTER:-$(dirname "$0")/../../tools/cluster.sh}
export PGDATABASE=replay_test
psql -X -q -d postgres -c "CREATE DATABASE replay_test"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS replay_test" >/dev/null 2>&1 || true' EXIT
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }

q "CREATE EXTENSION workflow"
q "CREATE FUNCTION helpers(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
DECLARE t timestamptz := workflow.now(); r float8 := workflow.random(); u uuid := workflow.uuid();
BEGIN
	PERFORM workflow.activity('Step', '{}', 'rq');
	RETURN jsonb_build_object('t', t, 'r', r, 'u', u);
END \$\$"
q "SELECT workflow.register_workflow('helpers', 'helpers(jsonb)')" >/dev/null
q "SELECT workflow.start_workflow('helpers', '{}', 'h1')" >/dev/null
recorded=$(q "SELECT jsonb_object_agg(data->>'marker', data->'value') FROM workflow.history
			 WHERE workflow_id = 'h1' AND event_type = 'MarkerRecorded'")

"$CLUSTER" restart >/dev/null
q "SELECT workflow.complete_activity(task_id, '{}') FROM workflow.claim_activities('rq')" >/dev/null

got=$(q "SELECT jsonb_build_object('now', result->'t', 'random', result->'r', 'uuid', result->'u')
		 FROM workflow.workflows WHERE workflow_id = 'h1' AND status = 'completed'")
same=$(q "SELECT ('$got'::jsonb->>'now')::timestamptz = ('$recorded'::jsonb->>'now')::timestamptz
		   AND ('$got'::jsonb->>'random')::float8 = ('$recorded'::jsonb->>'random')::float8
		   AND ('$got'::jsonb->>'uuid')::uuid = ('$recorded'::jsonb->>'uuid')::uuid")
echo "recorded: $recorded"
echo "replayed: $got"
[[ $same == t ]] || { echo "FAIL: the replay after restart returned other values"; exit 1; }
echo "ok: now(), random() and uuid() replay identically after a restart"
