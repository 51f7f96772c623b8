#!/usr/bin/env bash
# workflow-ui in a real browser and over HTTP.  The seed's order saga runs
# to its compensated end with real workflow-workers; headless chromium then
# loads the runs page, the saga's run page and the queues page, and the
# test asserts on the rendered DOM: the timeline's lanes for all six
# activities (SendConfirmation drawn as not reached), CreateShipment's
# three failed attempts, the two compensations, and a '<script>' in the
# input shown as text.  Screenshots go to tmp_check/ui_browser/.  Then,
# with curl: actions as an unprivileged role succeed on its own run and
# fail with the database's error on another role's; --read-only and
# POSTs without the session token are refused.
#
# Skips (exit 0) only when chromium is missing; tools/deps.sh installs it.
source "$(dirname "$0")/lib/worker.bash"

if ! command -v chromium >/dev/null; then
	echo "SKIP: chromium is not installed (tools/deps.sh installs it); the browser test did not run"
	exit 0
fi
command -v curl >/dev/null || fail "curl is not installed (tools/deps.sh installs it)"

if [[ -x $REPO/ui/workflow-ui ]]; then
	UI=$REPO/ui/workflow-ui
else
	UI=$("${PG_CONFIG:-pg_config}" --bindir)/workflow-ui
fi
[[ -x $UI ]] || fail "no workflow-ui binary (make; make install)"

SHOTS=$REPO/tmp_check/ui_browser
mkdir -p "$SHOTS"
HANDLER=$REPO/examples/order/handlers/activity.sh
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	wt_cleanup
}
trap cleanup EXIT

setup_db ui_browser
psql -X -q -v ON_ERROR_STOP=1 -f "$REPO/examples/order/setup.sql" >/dev/null

# ------------------------------------------------------------ the seed saga
start_ticker
for queue in inventory payments shipping notifications; do
	args=()
	for a in ReserveInventory ReleaseInventory ChargePayment RefundPayment CreateShipment SendConfirmation; do
		args+=(--handler "$a=$HANDLER")
	done
	"$WORKER" -q "$queue" -c 2 --poll-interval 0.5 "${args[@]}" >>"$WORKER_LOG" 2>&1 &
	PIDS+=($!)
done
q "SELECT workflow.start_workflow('order', '{\"order_id\": \"order-1\", \"items\": 2}', 'order-1')" >/dev/null
q "SELECT workflow.start_workflow('order', jsonb_build_object('order_id', 'order-3', 'items', 5,
	'carrier_down', true, 'note', '<script>document.title=\"pwned\"</script><img src=x id=injected>'),
	'order-3')" >/dev/null
wait_for "SELECT count(*) = 2 FROM workflow.workflows WHERE closed_at IS NOT NULL" 90
expect "SELECT status FROM workflow.workflows WHERE workflow_id = 'order-3'" compensated
expect "SELECT status FROM workflow.workflows WHERE workflow_id = 'order-1'" completed

# ------------------------------------------------------------ the UI, as the superuser
# start_ui ROLE [OPTIONS...]: a workflow-ui connected as ROLE; sets UI_URL.
# Ports below the ephemeral range (a client's own port cannot take it),
# the next one if taken.
NEXT_PORT=$((PGPORT % 10000 + 20000))
start_ui() {
	local role=$1 pid i
	shift
	for ((; NEXT_PORT < PGPORT % 10000 + 20100; NEXT_PORT++)); do
		"$UI" -d "dbname=$PGDATABASE host=$PGHOST port=$PGPORT user=$role" \
			--listen "127.0.0.1:$NEXT_PORT" "$@" >>"$WT_TMP/ui.log" 2>&1 &
		pid=$!
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			if grep -q "listening on http://127.0.0.1:$NEXT_PORT/" "$WT_TMP/ui.log"; then
				PIDS+=("$pid")
				UI_URL=http://127.0.0.1:$NEXT_PORT
				NEXT_PORT=$((NEXT_PORT + 1))
				return 0
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	cat "$WT_TMP/ui.log" >&2
	fail "workflow-ui does not start"
}
start_ui postgres
BASE=$UI_URL

browser() {
	local profile
	profile=$(mktemp -d "$WT_TMP/chromium.XXXXXX")
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" "$@" 2>>"$WT_TMP/chromium.log"
}
dom() {
	browser --dump-dom "$1" >"$2" || fail "chromium could not load $1"
}
shot() {
	browser --screenshot="$2" --window-size=1400,1000 "$1" >/dev/null || fail "no screenshot of $1"
	[[ -s $2 ]] || fail "empty screenshot $2"
}
has() {
	grep -q -- "$2" "$1" || fail "$1 lacks: $2"
}
count() {
	grep -o -- "$2" "$1" | wc -l
}

# The runs page.
dom "$BASE/runs" "$SHOTS/runs.html"
has "$SHOTS/runs.html" 'id="runs"'
has "$SHOTS/runs.html" 'href="/run?id=order-3&amp;run='
has "$SHOTS/runs.html" 'class="st-compensated">compensated <b>1</b>'
shot "$BASE/runs" "$SHOTS/runs.png"
dom "$BASE/runs?status=compensated" "$SHOTS/runs-compensated.html"
has "$SHOTS/runs-compensated.html" 'order-3'
grep -q 'href="/run?id=order-1&' "$SHOTS/runs-compensated.html" && fail "the status filter let order-1 through"

# The saga's run page: the timeline's lanes, attempts and compensations.
RUN=$BASE/run?id=order-3
dom "$RUN" "$SHOTS/run.html"
R=$SHOTS/run.html
for a in ReserveInventory ChargePayment CreateShipment SendConfirmation; do
	has "$R" "<g class=\"lane lane-activity[^\"]*\" data-kind=\"activity\" data-lane=\"$a\""
done
for c in RefundPayment ReleaseInventory; do
	has "$R" "<g class=\"lane lane-compensation\" data-kind=\"compensation\" data-lane=\"$c\""
done
has "$R" 'class="lane lane-activity not-reached" data-kind="activity" data-lane="SendConfirmation" data-spans="0"'
has "$R" 'data-lane="CreateShipment" data-spans="3"'
for n in 1 2 3; do
	has "$R" "data-kind=\"activity\" data-name=\"CreateShipment\" data-attempt=\"$n\" data-outcome=\"failed\""
done
(($(count "$R" 'class="backoff"') == 2)) || fail "expected the two backoffs of CreateShipment"
(($(count "$R" 'class="span k-compensation o-completed"') == 2)) || fail "expected two completed compensations"
has "$R" '<title>activity CreateShipment, attempt 2: failed'
has "$R" 'class="lane-label"'
has "$R" 'class="tick-label"'
has "$R" 'id="run-status">compensated<'
# The input's <script> and <img> are text: escaped in the DOM, not elements.
has "$R" '&lt;script&gt;document.title=\\"pwned\\"&lt;/script&gt;&lt;img src=x id=injected&gt;'
grep -q '<script>document' "$R" && fail "the input's <script> became an element"
grep -q 'id="injected"' "$R" && fail "the input's <img> became an element"
grep -q '<title>pwned' "$R" && fail "the input's script ran"
has "$R" 'id="history"'
has "$R" 'id="describe"'
shot "$RUN" "$SHOTS/run.png"

# An open run's page follows it: a run that sleeps 2 seconds is open when
# the page loads and closed in the DOM the page's polling ends with
# (virtual time skips the 2-second waits between polls; each poll's fetch
# is real, so the polls go on until the run closes or the budget is spent).
q "CREATE FUNCTION napper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN PERFORM workflow.sleep('2 seconds'); RETURN '{\"woke\": true}'; END \$\$" >/dev/null
q "SELECT workflow.register_workflow('napper', 'napper(jsonb)')" >/dev/null
q "SELECT workflow.start_workflow('napper', '{}', 'nap-1')" >/dev/null
curl -s -o "$WT_TMP/nap-open.html" "$BASE/run?id=nap-1"
has "$WT_TMP/nap-open.html" 'id="run-status">running<'
has "$WT_TMP/nap-open.html" '<div id="live" data-open="1">'
has "$WT_TMP/nap-open.html" '<tr data-kind="timer"><td>timer</td>'
browser --virtual-time-budget=3600000 --dump-dom "$BASE/run?id=nap-1" >"$SHOTS/run-refreshed.html" ||
	fail "chromium could not follow nap-1"
has "$SHOTS/run-refreshed.html" 'id="run-status"[^>]*>completed<'
has "$SHOTS/run-refreshed.html" '<div id="live" data-open="0">'

# Pause a queue through the UI (it then has a row in workflow.queues).
JAR=$WT_TMP/jar.txt
curl -s -c "$JAR" -o /dev/null "$BASE/runs"
TOKEN=$(awk '$6 == "wfui_session" { print $7 }' "$JAR")
[[ -n $TOKEN ]] || fail "no session cookie"
post() {	# post URL JAR [curl args...]: prints the HTTP status
	local url=$1 jar=$2
	shift 2
	curl -s -o "$WT_TMP/post.html" -w '%{http_code}' -b "$jar" "$@" "$url"
}
st=$(post "$BASE/action/queue-pause" "$JAR" --data-urlencode "token=$TOKEN" --data-urlencode queue=notifications)
[[ $st == 303 ]] || fail "queue-pause: HTTP $st $(cat "$WT_TMP/post.html")"
expect "SELECT options->>'paused' FROM workflow.queues WHERE queue = 'notifications'" true
dom "$BASE/queues" "$SHOTS/queues.html"
has "$SHOTS/queues.html" 'id="queues"'
has "$SHOTS/queues.html" '<tr data-queue="notifications"><td>notifications <span class="badge paused">paused</span>'
has "$SHOTS/queues.html" 'data-action="queue-resume"'
shot "$BASE/queues" "$SHOTS/queues.png"

# Schedules: next fires, pause, trigger.
q "SELECT workflow.create_schedule('nightly', '0 3 * * *', 'order', '{\"order_id\": \"nightly\"}')" >/dev/null
curl -s -b "$JAR" -o "$WT_TMP/schedules.html" "$BASE/schedules"
has "$WT_TMP/schedules.html" '<tr data-schedule="nightly">'
has "$WT_TMP/schedules.html" '<code>0 3 \* \* \*</code>'
has "$WT_TMP/schedules.html" ' 03:00:00, '
st=$(post "$BASE/action/schedule-pause" "$JAR" --data-urlencode "token=$TOKEN" --data-urlencode schedule=nightly)
[[ $st == 303 ]] || fail "schedule-pause: HTTP $st"
expect "SELECT paused FROM workflow.schedules WHERE schedule_id = 'nightly'" t
st=$(post "$BASE/action/schedule-trigger" "$JAR" --data-urlencode "token=$TOKEN" --data-urlencode schedule=nightly)
[[ $st == 303 ]] || fail "schedule-trigger: HTTP $st"
# The redirect names the action and the value returned; the page words it.
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -b "$JAR" --data-urlencode "token=$TOKEN" \
	--data-urlencode schedule=nightly "$BASE/action/schedule-resume")
[[ $loc == */schedules\?s=nightly\&done=schedule-resume ]] || fail "schedule-resume redirects to $loc"
curl -s -b "$JAR" -o "$WT_TMP/flash.html" "$BASE/schedules?done=schedule-trigger&value=nightly%3Ax"
has "$WT_TMP/flash.html" '<div class="flash" role="status">schedule triggered: started <code>nightly:x</code></div>'
curl -s -b "$JAR" -o "$WT_TMP/flash.html" "$BASE/runs?done=Your%20session%20expired&msg=x"
grep -q 'class="flash"' "$WT_TMP/flash.html" && fail "a link put its own words in the flash message"
expect "SELECT count(*) FROM workflow.workflows WHERE workflow_id LIKE 'nightly:%'" 1

# A lost connection: the server restarts, the next request reconnects.
"$CLUSTER" restart >/dev/null
st=$(curl -s -o "$WT_TMP/after-restart.html" -w '%{http_code}' "$BASE/runs")
[[ $st == 200 ]] || fail "the runs page after a server restart: HTTP $st"
has "$WT_TMP/after-restart.html" 'id="runs"'
grep -q 'Database error' "$WT_TMP/after-restart.html" && fail "an error after the restart"

# ------------------------------------------------------------ an unprivileged role
q "CREATE ROLE wf_ui_alice LOGIN; CREATE ROLE wf_ui_bob LOGIN" >/dev/null
q "SELECT workflow.grant_queue('*', 'wf_ui_alice', 'produce'), workflow.grant_queue('*', 'wf_ui_bob', 'produce')" >/dev/null
q "CREATE FUNCTION waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN RETURN workflow.wait_signal('go'); END \$\$" >/dev/null
q "SELECT workflow.register_workflow('waiter', 'waiter(jsonb)')" >/dev/null
PGUSER=wf_ui_alice q "SELECT workflow.start_workflow('waiter', '{}', 'alice-1'), workflow.start_workflow('waiter', '{}', 'alice-2')" >/dev/null
PGUSER=wf_ui_bob q "SELECT workflow.start_workflow('waiter', '{}', 'bob-1')" >/dev/null

start_ui wf_ui_alice
ABASE=$UI_URL
AJAR=$WT_TMP/alice.jar
curl -s -c "$AJAR" -o "$WT_TMP/alice-runs.html" "$ABASE/runs"
ATOKEN=$(awk '$6 == "wfui_session" { print $7 }' "$AJAR")
has "$WT_TMP/alice-runs.html" 'connected as <b id="role">wf_ui_alice</b>'
grep -q 'order-3' "$WT_TMP/alice-runs.html" && fail "alice's runs page shows the superuser's runs"
has "$WT_TMP/alice-runs.html" 'href="/run?id=alice-1&amp;run='
has "$WT_TMP/alice-runs.html" 'class="st-running">running <b>2</b>'
grep -q 'bob-1' "$WT_TMP/alice-runs.html" && fail "alice's runs page shows bob's run"
# A member of alice sees her runs there too (the page's owner filter is the policy's).
q "CREATE ROLE wf_ui_support LOGIN; GRANT wf_ui_alice TO wf_ui_support" >/dev/null
start_ui wf_ui_support
curl -s -o "$WT_TMP/support-runs.html" "$UI_URL/runs?status=running"
has "$WT_TMP/support-runs.html" 'href="/run?id=alice-2&amp;run='
grep -q 'bob-1' "$WT_TMP/support-runs.html" && fail "alice's member sees bob's run"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$ABASE/run?id=order-3") == 404 ]] ||
	fail "alice sees order-3's page"

st=$(post "$ABASE/action/signal" "$AJAR" --data-urlencode "token=$ATOKEN" --data-urlencode id=alice-1 \
	--data-urlencode signal=go --data-urlencode 'payload={"from": "the UI"}')
[[ $st == 303 ]] || fail "alice's signal to her run: HTTP $st $(cat "$WT_TMP/post.html")"
wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'alice-1'" 20
expect "SELECT result->>'from' FROM workflow.workflows WHERE workflow_id = 'alice-1'" "the UI"
st=$(post "$ABASE/action/cancel" "$AJAR" --data-urlencode "token=$ATOKEN" --data-urlencode id=alice-2 \
	--data-urlencode reason=test)
[[ $st == 303 ]] || fail "alice's cancel of her run: HTTP $st"
wait_for "SELECT status = 'cancelled' FROM workflow.workflows WHERE workflow_id = 'alice-2'" 20

for action in signal cancel terminate; do
	st=$(post "$ABASE/action/$action" "$AJAR" --data-urlencode "token=$ATOKEN" --data-urlencode id=bob-1 \
		--data-urlencode signal=go --data-urlencode reason=hostile)
	[[ $st == 403 || $st == 404 || $st == 409 ]] || fail "alice's $action of bob's run: HTTP $st"
	has "$WT_TMP/post.html" 'class="error" role="alert"><strong>Database error <code class="sqlstate">'
	has "$WT_TMP/post.html" 'bob-1'
done
expect "SELECT status FROM workflow.workflows WHERE workflow_id = 'bob-1'" running
expect "SELECT count(*) FROM workflow.signals WHERE workflow_id = 'bob-1'" 0

# Reset: of her own closed run, to its start (a new run of alice-1, to
# which the signal it got is re-applied, so it completes again); of bob's,
# the database's refusal.
st=$(post "$ABASE/action/reset" "$AJAR" --data-urlencode "token=$ATOKEN" --data-urlencode id=alice-1 \
	--data-urlencode event_id=1 --data-urlencode reason=again)
[[ $st == 303 ]] || fail "alice's reset of her run: HTTP $st $(cat "$WT_TMP/post.html")"
expect "SELECT count(*) FROM workflow.workflows WHERE workflow_id = 'alice-1'" 2
wait_for "SELECT count(*) = 2 FROM workflow.workflows WHERE workflow_id = 'alice-1' AND status = 'completed'" 20
expect "SELECT count(*) FROM workflow.history h JOIN workflow.workflows w USING (workflow_id, run_id)
	WHERE w.workflow_id = 'alice-1' AND h.data @> '{\"reapplied\": true}'" 1
st=$(post "$ABASE/action/reset" "$AJAR" --data-urlencode "token=$ATOKEN" --data-urlencode id=bob-1 \
	--data-urlencode event_id=1)
[[ $st == 403 || $st == 404 || $st == 409 ]] || fail "alice's reset of bob's run: HTTP $st"
has "$WT_TMP/post.html" 'class="error" role="alert"><strong>Database error <code class="sqlstate">'
expect "SELECT count(*) FROM workflow.workflows WHERE workflow_id = 'bob-1'" 1

# Cross-site and tokenless POSTs.
st=$(post "$ABASE/action/cancel" "$AJAR" --data-urlencode id=bob-1)
[[ $st == 403 ]] || fail "a POST without the token field: HTTP $st"
st=$(post "$ABASE/action/cancel" /dev/null --data-urlencode "token=$ATOKEN" --data-urlencode id=alice-1)
[[ $st == 403 ]] || fail "a POST without the cookie: HTTP $st"
st=$(post "$ABASE/action/cancel" "$AJAR" -H "Origin: http://evil.example" --data-urlencode "token=$ATOKEN" \
	--data-urlencode id=bob-1)
[[ $st == 403 ]] || fail "a POST from another origin: HTTP $st"
st=$(post "$ABASE/action/cancel" "$AJAR" -H "Sec-Fetch-Site: cross-site" --data-urlencode "token=$ATOKEN" \
	--data-urlencode id=bob-1)
[[ $st == 403 ]] || fail "a cross-site POST: HTTP $st"
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$ABASE/runs")
[[ $st == 421 ]] || fail "a request for another host name: HTTP $st"

# --read-only: no actions shown, POSTs refused.
start_ui wf_ui_alice --read-only
RBASE=$UI_URL
RJAR=$WT_TMP/ro.jar
curl -s -c "$RJAR" -o "$WT_TMP/ro-run.html" "$RBASE/run?id=bob-1"
PGUSER=wf_ui_alice q "SELECT workflow.start_workflow('waiter', '{}', 'alice-3')" >/dev/null
curl -s -b "$RJAR" -o "$WT_TMP/ro-run.html" "$RBASE/run?id=alice-3"
has "$WT_TMP/ro-run.html" 'id="read-only"'
grep -q 'action="/action/' "$WT_TMP/ro-run.html" && fail "--read-only shows an action"
RTOKEN=$(awk '$6 == "wfui_session" { print $7 }' "$RJAR")
st=$(post "$RBASE/action/cancel" "$RJAR" --data-urlencode "token=$RTOKEN" --data-urlencode id=alice-3)
[[ $st == 403 ]] || fail "--read-only: a POST gives HTTP $st"
expect "SELECT status FROM workflow.workflows WHERE workflow_id = 'alice-3'" running

echo "ok (screenshots in $SHOTS)"
