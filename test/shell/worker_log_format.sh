#!/usr/bin/env bash
# The log formats.  A handler fails with an error that holds quotes, a
# backslash, '=', a tab and a newline.  --log-format=text (the default):
# after "LEVEL: task finished " every task line is strict logfmt whose
# values decode to exactly what happened (the error used to be written
# between quotes unescaped: error="... "./x.sh": ..."), and the error does
# not start a line of its own.  --log-format=json: every line is one JSON
# object with ts, level, pid and msg, and the task lines' fields.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_log_format
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_log',
		'{\"retry\": {\"maximum_attempts\": 1}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
cat >"$WT_TMP/quote.sh" <<'SH'
#!/bin/sh
cat >/dev/null
printf 'cannot open "./x.sh": denied\nin C:\\dir\\ a=b\tend\n' >&2
exit 65
SH
chmod 755 "$WT_TMP/quote.sh"
export WANT_ERROR=$'cannot open "./x.sh": denied\nin C:\\dir\\ a=b\tend'

# Run one workflow of each activity with the worker's arguments $@.
run_two() {
	local tag=$1
	shift
	q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Quote\"}', 'log-$tag-quote')" >/dev/null
	q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Echo\"}', 'log-$tag-echo')" >/dev/null
	: >"$WORKER_LOG"
	start_worker -q wq_log --handler Quote="$WT_TMP/quote.sh" --handler Echo="$HANDLERS/echo.sh" \
		--max-tasks 2 "$@"
	wait_worker 30
	((WORKER_RC == 0)) || fail "workflow-worker $* exited with $WORKER_RC"
	expect "SELECT data->>'error' = '$(printf '%s' "$WANT_ERROR" | sed "s/'/''/g")' FROM workflow.history
		WHERE workflow_id = 'log-$tag-quote' AND event_type = 'ActivityFailed'" t
}

run_two text
python3 - "$WORKER_LOG" <<'PY' || fail "the text log is not valid logfmt"
import json, os, re, sys
KEY = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=')
BARE = re.compile(r'[^ "=\\\x00-\x1f]*')
PREFIX = re.compile(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z workflow-worker\[\d+\] (DEBUG|INFO|WARNING|ERROR): ')

def logfmt(s):
    """Strict logfmt: key=value pairs separated by one space."""
    out, i = {}, 0
    while i < len(s):
        m = KEY.match(s, i)
        assert m, "no key at %d: %r" % (i, s[i:])
        i = m.end()
        if s[i:i + 1] == '"':
            v, i = json.JSONDecoder().raw_decode(s, i)
        else:
            b = BARE.match(s, i)
            v, i = b.group(0), b.end()
        out[m.group(1)] = v
        if i < len(s):
            assert s[i] == ' ' and s[i + 1:i + 2] != ' ', "no single space at %d: %r" % (i, s[i:])
            i += 1
    return out

tasks = {}
for line in open(sys.argv[1], encoding='utf-8'):
    line = line.rstrip('\n')
    m = PREFIX.match(line)
    assert m, "a line without the prefix: %r" % line
    rest = line[m.end():]
    if rest.startswith('task finished '):
        f = logfmt(rest[len('task finished '):])
        tasks[f['activity']] = f
assert set(tasks) == {'Quote', 'Echo'}, tasks
q, e = tasks['Quote'], tasks['Echo']
assert q['error'] == os.environ['WANT_ERROR'], q['error']
assert (q['outcome'], q['exit'], q['retryable'], q['queue']) == ('failed', '65', 'false', 'wq_log'), q
assert (e['outcome'], e['exit']) == ('completed', '0') and 'error' not in e, e
assert re.fullmatch(r'\d+\.\d{3}s', e['duration']), e
PY

run_two json --log-format=json
python3 - "$WORKER_LOG" <<'PY' || fail "the json log is not one JSON object per line"
import json, os, sys
tasks, n = {}, 0
for line in open(sys.argv[1], encoding='utf-8'):
    o = json.loads(line)
    n += 1
    assert isinstance(o, dict) and {'ts', 'level', 'pid', 'msg'} <= set(o), o
    assert o['level'] in ('debug', 'info', 'warning', 'error') and isinstance(o['pid'], int), o
    if o['msg'] == 'task finished':
        tasks[o['activity']] = o
assert n >= 5, n
assert set(tasks) == {'Quote', 'Echo'}, tasks
q, e = tasks['Quote'], tasks['Echo']
assert q['error'] == os.environ['WANT_ERROR'], q['error']
assert (q['outcome'], q['exit'], q['retryable'], q['attempt']) == ('failed', 65, False, 1), q
assert (e['outcome'], e['exit'], e['workflow']) == ('completed', 0, 'log-json-echo'), e
PY
grep -q '"msg": "workflow-worker .* starting: worker \\"' "$WORKER_LOG" || fail "quotes of a message not escaped in json"
echo "ok"
