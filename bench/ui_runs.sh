#!/usr/bin/env bash
# The runs page of workflow-ui on a million closed runs (issue 15: it must
# answer in under 100 ms).  Nothing here asserts a timing.
#
# Starts a throwaway cluster (tools/cluster.sh fresh), fills
# workflow.workflows with BENCH_UI_RUNS closed runs (inserted directly: the
# page reads only that table) owned by a role bench_ui_owner, then times
# the runs page's variants (the median of 5 requests after one warm-up)
# through workflow-ui connected as the superuser and as bench_ui_owner
# (row-level security applies), and prints the plans of the UI's own
# queries as auto_explain logged them.
#
# Usage (as root, after make install): bench/ui_runs.sh
#   BENCH_UI_RUNS    closed runs [1000000]
#   BENCH_UI_PORT    first of the two ports the UIs listen on [18480]
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/pgconfig.bash
pg_locate || exit 1
export PATH=$PG_BINDIR:$PATH
RUNS=${BENCH_UI_RUNS:-1000000}
PORT=${BENCH_UI_PORT:-18480}
UI=$PG_BINDIR/workflow-ui
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

tools/cluster.sh fresh >/dev/null
eval "$(tools/cluster.sh env)"
export PGDATABASE=ui_bench
createdb ui_bench
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION workflow;
CREATE ROLE bench_ui_owner LOGIN;
CREATE ROLE bench_ui_small LOGIN;
SET synchronous_commit = off;
INSERT INTO workflow.workflows (workflow_id, workflow_type, status, input, result, queue, owner,
								created_at, updated_at, closed_at, search_attributes)
SELECT 'bench-' || g, CASE WHEN g % 3 = 0 THEN 'order' ELSE 'invoice' END,
	   CASE WHEN g % 50 = 0 THEN 'failed' WHEN g % 97 = 0 THEN 'compensated' ELSE 'completed' END,
	   jsonb_build_object('n', g), '{"ok": true}', 'default', 'bench_ui_owner',
	   now() - interval '30 days' + g * interval '2 seconds', now(),
	   now() - interval '30 days' + g * interval '2 seconds' + interval '3 seconds',
	   CASE WHEN g % 1000 = 0 THEN jsonb_build_object('customer', 'c' || (g / 1000)) ELSE '{}' END
  FROM generate_series(1, $RUNS) g;
INSERT INTO workflow.workflows (workflow_id, workflow_type, status, input, queue, owner, closed_at)
SELECT 'small-' || g, 'order', 'completed', '{}', 'default', 'bench_ui_small', now()
  FROM generate_series(1, 10) g;
VACUUM ANALYZE workflow.workflows;
SQL
echo "== $(psql -X -A -t -c 'SELECT count(*) FROM workflow.workflows') closed runs"

QUERIES=("" "status=failed" "type=order" "id=bench-99999"
	"from=$(date -u -d '-10 days' +%F)&to=$(date -u -d '-9 days' +%F)" "attr=customer%3Dc500"
	"status=compensated&type=invoice")
start_ui() {	# start_ui ROLE PORT
	"$UI" -d "host=$PGHOST port=$PGPORT dbname=ui_bench user=$1" --listen "127.0.0.1:$2" >/dev/null 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$2/runs" && break; sleep 0.1; done
}

for role in postgres bench_ui_owner bench_ui_small; do
	start_ui "$role" "$PORT"
	echo "== as $role (median of 5, ms)"
	for q in "${QUERIES[@]}"; do
		url="http://127.0.0.1:$PORT/runs?$q"
		curl -s -o /tmp/ui_runs_page.html "$url"
		next=$(grep -o 'id="next-page" href="[^"]*"' /tmp/ui_runs_page.html | sed 's/.*href="//;s/"$//;s/&amp;/\&/g' || true)
		for u in "$url" ${next:+"http://127.0.0.1:$PORT$next"}; do
			t=$(for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' "$u"; done | sort -n | sed -n 3p)
			awk -v t="$t" -v u="${u#http://127.0.0.1:$PORT}" 'BEGIN { printf "  %7.1f  %s\n", t * 1000, u }'
		done
	done
	PORT=$((PORT + 1))
done
rm -f /tmp/ui_runs_page.html

# The plans, as auto_explain logs them for a new UI's connections.
psql -X -q <<'SQL'
ALTER ROLE bench_ui_owner SET session_preload_libraries = 'auto_explain';
ALTER ROLE bench_ui_owner SET auto_explain.log_min_duration = 0;
ALTER ROLE bench_ui_owner SET auto_explain.log_analyze = on;
SQL
start_ui bench_ui_owner "$PORT"
log=$PGHOST/log/postgresql.log
echo "== plans of the runs query as bench_ui_owner (row-level security applies)"
for q in "${QUERIES[@]}"; do
	from=$(stat -c %s "$log")
	curl -s -o /dev/null "http://127.0.0.1:$PORT/runs?$q"
	sleep 0.3
	echo "-- /runs?$q"
	tail -c +$((from + 1)) "$log" | awk '
		/Query Text: SELECT w.workflow_id/ { on = 1; next }
		/Query Text:|LOG:/ { on = 0 }
		on && /(Limit|Scan|Sort|Cond|Filter|Rows Removed)/ { sub(/^[ \t]+/, "  "); print }'
done
