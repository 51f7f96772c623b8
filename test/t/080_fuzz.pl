# Fuzz test of every public function of the extension.
#
# The functions are read from the catalog (pg_depend deptype 'e' on the
# extension), so a function added later is fuzzed without touching this
# file.  For each one, calls are generated from pools of bad values per
# argument type (NULL, '', 10000-char names, 2 MB text and jsonb, quotes,
# wrong jsonb shapes, unknown and nested option keys, extreme intervals,
# extreme numbers, 1e400 in jsonb ...): one argument fuzzed at a time with
# the others at a sane baseline, every argument NULL at once, only the
# required arguments, and seeded pseudo-random combinations.  Each call is
# made as an unprivileged role, twice:
#
#   out  directly, in a transaction of its own;
#   in   from inside workflow code: a registered workflow function runs the
#        call in a BEGIN/EXCEPTION block and returns the outcome; the run is
#        started with start_workflow (advanced inline).
#
# Asserted for every call:
#   - no SQLSTATE of class XX (internal error) or 58 (system error);
#   - no crash: the connection survives, and the server log has no
#     "terminated by signal" / "was terminated" / PANIC / TRAP;
#   - nothing changed on error: the row count and xmin sum of every table of
#     the extension's schema are the same before and after a failing call
#     (out), or, in code, a call that failed (and was caught) left no event,
#     task, timer, signal or state of its run and changed nothing else;
#   - the session's settings (search_path, statement_timeout, TimeZone,
#     role, read-only default, advisory locks, temp objects) are the same
#     after the call as before;
#   - in code: start_workflow never fails because of what the code did, and
#     no workflow task fails (WorkflowTaskFailed): the code catches every
#     error of the call itself.
# At the end: the scheduler is alive and never exited, tick() (now and a
# day ahead) and a claim on every queue with tasks work, terminating every
# open run works, and no task, timer, signal or child notice is left for a
# closed run.
#
# Deterministic: WF_FUZZ_SEED (default 20251202) seeds the random part;
# WF_FUZZ_RANDOM sets the random calls per function (default 12).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use WorkflowTest;

my $SEED = $ENV{WF_FUZZ_SEED} // 20251202;
my $NRANDOM = $ENV{WF_FUZZ_RANDOM} // 12;
my $t_start = time();
srand($SEED);

my $node = new_node(
	'fuzz', extra_conf => q{
log_error_verbosity = verbose
log_min_error_statement = panic
workflow.task_retry_initial = 200
});
my $db = 'postgres';
my $log_offset = 0;

# ------------------------------------------------------------------ harness

$node->safe_psql(
	$db, q{
CREATE EXTENSION workflow;
CREATE ROLE fuzzer LOGIN;
SELECT workflow.grant_queue('fq', 'fuzzer', 'all');
SELECT workflow.grant_queue('default', 'fuzzer', 'produce');
CREATE SCHEMA fuzz_fx AUTHORIZATION fuzzer;
CREATE SCHEMA fuzz;
GRANT USAGE ON SCHEMA fuzz TO fuzzer;

CREATE TABLE fuzz.calls (
	id int PRIMARY KEY,
	phase text NOT NULL,
	fn text NOT NULL,
	label text NOT NULL,
	sql text NOT NULL,
	wf_id text,
	before jsonb,
	settings_before text,
	sqlstate text,
	message text,
	inner_sqlstate text,
	inner_message text,
	settings_after text,
	changed text[],
	violation text[]);

/* Due items the scheduler has not processed within 2 s: not waited for again. */
CREATE TABLE fuzz.stuck (k text PRIMARY KEY);

/* Per table of the extension's schema: "rows/sum of xmin" (rows of workflow_id excl left out). */
CREATE FUNCTION fuzz.snapshot(excl text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
	r record;
	v text;
	snap jsonb := '{}';
BEGIN
	FOR r IN
		SELECT c.oid::regclass AS tbl, c.relname,
			   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
						  AND a.attname = 'workflow_id' AND NOT a.attisdropped) AS has_wid
		  FROM pg_class c JOIN pg_extension e ON e.extnamespace = c.relnamespace
		 WHERE e.extname = 'workflow' AND c.relkind IN ('r', 'p')
		 ORDER BY c.relname
	LOOP
		IF excl IS NOT NULL AND r.has_wid THEN
			EXECUTE format('SELECT count(*) || ''/'' || coalesce(sum(xmin::text::bigint), 0)'
						   ' || ''/'' || coalesce(max(xmin::text::bigint), 0) FROM ONLY %s'
						   ' WHERE workflow_id IS DISTINCT FROM $1', r.tbl) INTO v USING excl;
		ELSE
			EXECUTE format('SELECT count(*) || ''/'' || coalesce(sum(xmin::text::bigint), 0)'
						   ' || ''/'' || coalesce(max(xmin::text::bigint), 0) FROM ONLY %s',
						   r.tbl) INTO v;
		END IF;
		snap := snap || jsonb_build_object(r.relname, v);
	END LOOP;
	RETURN snap;
END $$;

/* What differs between two snapshots: per table, the row counts and the
 * row versions newer than any before (a diagnosis, not the verdict). */
CREATE FUNCTION fuzz.diff(before jsonb, after jsonb, excl text) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
	k text;
	rows text;
	out text[];
BEGIN
	FOR k IN SELECT x FROM jsonb_object_keys(before || after) x ORDER BY 1 LOOP
		CONTINUE WHEN before->k IS NOT DISTINCT FROM after->k;
		EXECUTE format('SELECT string_agg(left(to_jsonb(t)::text, 400), '' ; '') FROM ('
					   'SELECT * FROM ONLY workflow.%I t WHERE xmin::text::bigint > $1 LIMIT 5) t', k)
		   INTO rows USING split_part(before->>k, '/', 3)::bigint;
		out := out || format('%s (rows/xmin sum/max %s -> %s) new versions: %s',
							 k, before->>k, after->>k, coalesce(rows, 'none'));
	END LOOP;
	RETURN out;
END $$;

/* Keys of the work that is due now (timers, task deadlines, retries, notices). */
CREATE FUNCTION fuzz.due_keys(ahead interval) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
	keys text[] := '{}';
	part text[];
BEGIN
	BEGIN
		SELECT coalesce(array_agg('timer ' || workflow_id || ' ' || run_id || ' ' || seq), '{}') INTO part
		  FROM workflow.timers WHERE fire_at <= clock_timestamp() + ahead;
		keys := keys || part;
		SELECT coalesce(array_agg('task ' || task_id || ' ' || status || ' ' || attempt), '{}') INTO part
		  FROM workflow.tasks
		 WHERE due_at <= clock_timestamp() + ahead
			OR (status = 'backoff' AND ready_at <= clock_timestamp() + ahead);
		keys := keys || part;
		SELECT coalesce(array_agg('run ' || workflow_id || ' ' || run_id || ' ' || task_failures), '{}') INTO part
		  FROM workflow.workflows
		 WHERE closed_at IS NULL
		   AND (task_retry_at <= clock_timestamp() + ahead
				OR execution_deadline <= clock_timestamp() + ahead);
		keys := keys || part;
		SELECT coalesce(array_agg('notice ' || workflow_id || ' ' || child_workflow_id), '{}') INTO part
		  FROM workflow.child_notices;
		keys := keys || part;
	EXCEPTION WHEN undefined_column OR undefined_table THEN
		NULL;
	END;
	RETURN keys;
END $$;

/* Wait (up to 2 s) until the scheduler has done the work that is due or
 * falls due within 300 ms, so that it does not change the tables during the
 * next call. */
CREATE FUNCTION fuzz.quiesce() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
	pending text[];
	deadline timestamptz := clock_timestamp() + interval '2 seconds';
BEGIN
	LOOP
		SELECT coalesce(array_agg(k), '{}') INTO pending
		  FROM unnest(fuzz.due_keys('300 milliseconds')) k WHERE k NOT IN (SELECT s.k FROM fuzz.stuck s);
		EXIT WHEN cardinality(pending) = 0;
		IF clock_timestamp() > deadline THEN
			INSERT INTO fuzz.stuck SELECT unnest(pending) ON CONFLICT DO NOTHING;
			EXIT;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
END $$;

/* The session's settings and session-level leftovers (runs as the caller). */
CREATE FUNCTION fuzz.settings() RETURNS text LANGUAGE sql AS $$
SELECT concat_ws(' | ', current_user, session_user,
	'search_path=' || current_setting('search_path'),
	'statement_timeout=' || current_setting('statement_timeout'),
	'lock_timeout=' || current_setting('lock_timeout'),
	'TimeZone=' || current_setting('TimeZone'),
	'DateStyle=' || current_setting('DateStyle'),
	'read_only=' || current_setting('default_transaction_read_only'),
	'isolation=' || current_setting('default_transaction_isolation'),
	'work_mem=' || current_setting('work_mem'),
	'synchronous_commit=' || current_setting('synchronous_commit'),
	'advisory_locks=' || (SELECT count(*) FROM pg_catalog.pg_locks
						   WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()),
	'temp_objects=' || (SELECT count(*) FROM pg_catalog.pg_class
						 WHERE relnamespace = pg_catalog.pg_my_temp_schema()))
$$;

/* Before a call: wait for quiet, record the call and the snapshot. */
CREATE FUNCTION fuzz.begin_call(p_id int, p_phase text, p_fn text, p_label text, p_sql text,
								p_settings text, p_wf_id text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
	PERFORM fuzz.quiesce();
	/* A function whose calls hang (3 s statement_timeout): after 3 timeouts, skip it. */
	IF (SELECT count(*) FROM fuzz.calls WHERE fn = p_fn AND phase = p_phase AND sqlstate = '57014') >= 3 THEN
		INSERT INTO fuzz.calls (id, phase, fn, label, sql, wf_id, sqlstate)
			VALUES (p_id, p_phase, p_fn, p_label, p_sql, p_wf_id, 'skipped');
		RETURN false;
	END IF;
	INSERT INTO fuzz.calls (id, phase, fn, label, sql, wf_id, before, settings_before)
		VALUES (p_id, p_phase, p_fn, p_label, p_sql, p_wf_id, fuzz.snapshot(p_wf_id), p_settings);
	RETURN true;
END $$;

/* After a call: its outcome, and what it must not have done. */
CREATE FUNCTION fuzz.end_call(p_id int, p_sqlstate text, p_error boolean, p_message text,
							  p_settings text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
	c fuzz.calls;
	after jsonb;
	diff text[];
	v text[] := '{}';
	r record;
	events text;
	leftovers text;
BEGIN
	SELECT * INTO c FROM fuzz.calls WHERE id = p_id;
	IF NOT p_error THEN
		p_sqlstate := '00000';
		p_message := NULL;
	END IF;
	IF p_sqlstate ~ '^(XX|58)' THEN
		v := v || ('internal error ' || p_sqlstate);
	END IF;
	IF p_settings IS DISTINCT FROM c.settings_before THEN
		v := v || 'session settings changed'::text;
	END IF;
	IF c.phase = 'out' THEN
		IF p_error THEN
			after := fuzz.snapshot(NULL);
			diff := fuzz.diff(c.before, after, NULL);
			IF diff IS NOT NULL THEN
				v := v || 'changed on error'::text;
			END IF;
		END IF;
		UPDATE fuzz.calls SET sqlstate = p_sqlstate, message = left(p_message, 500),
			   settings_after = p_settings, changed = diff, violation = v
		 WHERE id = p_id;
		RETURN;
	END IF;

	/* phase 'in': p_* is start_workflow's outcome */
	IF p_error AND p_sqlstate <> '57014' THEN
		v := v || ('start_workflow failed ' || p_sqlstate);
	END IF;
	SELECT w.run_id, w.status, w.result INTO r
	  FROM workflow.workflows w WHERE w.workflow_id = c.wf_id ORDER BY w.created_at, w.run_id LIMIT 1;
	IF FOUND THEN
		SELECT string_agg(h.event_type, ',' ORDER BY h.event_id) INTO events
		  FROM workflow.history h WHERE h.workflow_id = c.wf_id AND h.run_id = r.run_id;
		IF events ~ 'WorkflowTaskFailed' THEN
			v := v || ('workflow task failed: ' || coalesce((SELECT left(h.data->'error'->>'sqlstate' || ' ' || (h.data->'error'->>'message'), 300)
				  FROM workflow.history h WHERE h.workflow_id = c.wf_id AND h.run_id = r.run_id
				   AND h.event_type = 'WorkflowTaskFailed' ORDER BY h.event_id LIMIT 1), '?'));
		END IF;
		IF (SELECT string_agg(h.data->'error'->>'sqlstate', ',') FROM workflow.history h
			 WHERE h.workflow_id = c.wf_id AND h.event_type = 'WorkflowTaskFailed') ~ '(XX|58)' THEN
			v := v || 'internal error in the workflow task'::text;
		END IF;
		IF r.result->>'sqlstate' ~ '^(XX|58)' THEN
			v := v || ('internal error ' || (r.result->>'sqlstate'));
		END IF;
		/* WF001/WF002/WF006 are outcomes the history records (an activity or child
		 * failed, the run was cancelled), not refused calls. */
		IF r.result ? 'sqlstate' AND r.result->>'sqlstate' NOT IN ('00000', 'WF001', 'WF002', 'WF006') THEN
			/* the call failed in code, and the code caught it: it must have left nothing */
			IF events IS DISTINCT FROM 'WorkflowStarted,WorkflowCompleted' THEN
				v := v || ('failed call left events: ' || coalesce(events, '(none)'));
			END IF;
			SELECT string_agg(x, ', ') INTO leftovers FROM (
				SELECT 'task ' || activity FROM workflow.tasks WHERE workflow_id = c.wf_id
				UNION ALL SELECT 'timer ' || seq FROM workflow.timers WHERE workflow_id = c.wf_id
				UNION ALL SELECT 'signal ' || signal FROM workflow.signals WHERE workflow_id = c.wf_id
				UNION ALL SELECT 'state ' || key FROM workflow.state WHERE workflow_id = c.wf_id
				UNION ALL SELECT 'child run ' || workflow_id FROM workflow.workflows
						   WHERE parent_workflow_id = c.wf_id) l(x);
			IF leftovers IS NOT NULL THEN
				v := v || ('failed call left rows: ' || leftovers);
			END IF;
			after := fuzz.snapshot(c.wf_id);
			diff := fuzz.diff(c.before, after, c.wf_id);
			IF diff IS NOT NULL THEN
				v := v || 'changed on error'::text;
			END IF;
		END IF;
	ELSIF NOT p_error THEN
		v := v || 'start_workflow returned but no run exists'::text;
	END IF;
	UPDATE fuzz.calls SET sqlstate = p_sqlstate, message = left(p_message, 500),
		   inner_sqlstate = r.result->>'sqlstate', inner_message = left(r.result->>'message', 500),
		   settings_after = p_settings, changed = diff, violation = v
	 WHERE id = p_id;
END $$;

/* The fixture's claimed task (held by worker 'fz-fixture'), if any. */
CREATE FUNCTION fuzz.task() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT max(task_id) FROM workflow.tasks WHERE claimed_by = 'fz-fixture' AND status = 'running'
$$;

/* Keep the fixture that the baseline arguments name (runs as the fuzzer). */
CREATE FUNCTION fuzz.ensure_fixture() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM workflow.workflows WHERE workflow_id = 'fz-wait' AND closed_at IS NULL) THEN
		PERFORM workflow.start_workflow('fz_wait', '{"k": 1}', 'fz-wait');
	END IF;
	IF fuzz.task() IS NULL THEN
		PERFORM workflow.start_workflow('fz_act', '{}', 'fz-act-' || pg_catalog.clock_timestamp());
		-- The claim outlives the session that makes it (the fuzz reports from others).
		PERFORM pg_catalog.set_config('workflow.session_leases', 'off', true);
		PERFORM workflow.claim_activities('fq', 'fz-fixture', 1);
	END IF;
END $$;

GRANT SELECT ON fuzz.calls TO fuzzer;
});

# The fixture's workflow code, owned by the unprivileged role.
$node->safe_psql(
	$db, q{
SET ROLE fuzzer;
CREATE FUNCTION fuzz_fx.echo(input jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT input';
CREATE FUNCTION fuzz_fx.wrong_arg(input text) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb';
CREATE FUNCTION fuzz_fx.wrong_ret(input jsonb) RETURNS text LANGUAGE sql AS 'SELECT NULL::text';
CREATE FUNCTION fuzz_fx.waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.set_state('k', input);
	PERFORM workflow.wait_signal('go');
	RETURN input;
END $$;
CREATE FUNCTION fuzz_fx.actor(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('A', input, 'fq',
		'{"retry": {"initial_interval": "1 day"}, "start_to_close_timeout": "1 day"}', 'UndoA');
END $$;
/* Runs the call it is given; catches its error and returns the outcome. */
CREATE FUNCTION fuzz_fx.incode(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	st text := '00000';
	msg text;
BEGIN
	IF input ? 'sql' THEN
		BEGIN
			EXECUTE input->>'sql';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			IF st IN ('WF004', 'WF007') THEN
				RAISE;		-- the engine's suspension and continue-as-new
			END IF;
		END;
	END IF;
	RETURN jsonb_build_object('sqlstate', st, 'message', left(msg, 300));
END $$;
SELECT workflow.register_workflow('fz_echo', 'fuzz_fx.echo(jsonb)');
SELECT workflow.register_workflow('fz_wait', 'fuzz_fx.waiter(jsonb)');
SELECT workflow.register_workflow('fz_act', 'fuzz_fx.actor(jsonb)');
SELECT workflow.register_workflow('fz_in', 'fuzz_fx.incode(jsonb)');
SELECT fuzz.ensure_fixture();
});
is($node->safe_psql($db, 'SELECT fuzz.task() IS NOT NULL'), 't', 'the fixture holds a claimed task');

# ------------------------------------------------------------ the functions

my @funcs;
for my $line (
	split /\n/,
	$node->safe_psql(
		$db, q{
SELECT p.proname, p.prokind, p.pronargs, p.pronargdefaults,
	   coalesce((SELECT string_agg(format_type(t.t, NULL), ';' ORDER BY t.o)
				   FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY t(t, o)), ''),
	   coalesce((SELECT string_agg(coalesce(nullif(n.n, ''), '$' || n.o), ';' ORDER BY n.o)
				   FROM unnest(p.proargnames) WITH ORDINALITY n(n, o)
				  WHERE n.o <= p.pronargs), ''),
	   format_type(p.prorettype, NULL), p.oid::regprocedure
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
 WHERE e.extname = 'workflow'
 ORDER BY p.proname, p.oid::regprocedure::text})
  )
{
	my ($name, $kind, $nargs, $ndef, $types, $names, $ret, $sig) = split /\|/, $line;
	my @types = split /;/, $types;
	my @names = split /;/, $names;
	$names[$_] //= '$' . ($_ + 1) for 0 .. $#types;
	push @funcs,
	  {
		name => $name,
		kind => $kind,
		ndef => $ndef,
		types => \@types,
		names => \@names,
		ret => $ret,
		sig => $sig
	  };
}
ok(@funcs >= 25, scalar(@funcs) . ' functions of the extension found in the catalog');
note('functions: ' . join(', ', map { $_->{sig} } @funcs));

# ------------------------------------------------------------ value pools

my $BIG = 2 * 1024 * 1024;
my %pool = (
	text => [
		[ null => 'NULL' ],
		[ empty => q{''} ],
		[ space => q{' '} ],
		[ x => q{'x'} ],
		[ name63 => q{repeat('q', 63)} ],
		[ name64 => q{repeat('q', 64)} ],
		[ name10k => q{repeat('n', 10000)} ],
		[ text2mb => "repeat('x', $BIG)" ],
		[ quotes => q{$q$a'b"c); DROP TABLE x; --$q$} ],
		[ unicode => q{'ünï €🙂'} ],
		[ control => q{E'a\tb\nc\x01'} ],
		[ star => q{'*'} ],
		[ dollar_user => q{'$user'} ],
		[ number => q{'-1'} ],
	],
	jsonb => [
		[ null => 'NULL' ],
		[ json_null => q{'null'} ],
		[ empty_object => q{'{}'} ],
		[ empty_array => q{'[]'} ],
		[ array => q{'[1, "a", null, {}]'} ],
		[ scalar_number => q{'1'} ],
		[ scalar_string => q{'"s"'} ],
		[ scalar_true => q{'true'} ],
		[ huge_number => q{'1e400'} ],
		[ nested => q{'{"a": {"b": {"c": [1, {"d": null}]}}}'} ],
		[ unknown_key => q{'{"bogus": 1}'} ],
		[ empty_key => q{'{"": ""}'} ],
		[ jsonb2mb => "jsonb_build_object('big', repeat('x', $BIG))" ],
		[ array100k => q{(SELECT jsonb_agg(i) FROM generate_series(1, 100000) i)} ],
		[ deep1000 => q{(repeat('{"a": ', 1000) || '1' || repeat('}', 1000))::jsonb} ],
	],
	interval => [
		[ null => 'NULL' ],
		[ zero => q{'0'} ],
		[ minus_1_day => q{'-1 day'} ],
		[ micro => q{'1 microsecond'} ],
		[ day_minus_hour => q{'1 day -1 hour'} ],
		[ month_minus_days => q{'1 month -40 days'} ],
		[ y300k => q{'300000 years'} ],
		[ y178m => q{'178000000 years'} ],
		[ max_days => q{'2147483647 days'} ],
		[ max_hours => q{'2562047788 hours'} ],
		[ min_interval => q{'-178000000 years'} ],
	],
	integer => [
		[ null => 'NULL' ],
		[ zero => '0' ],
		[ minus1 => '-1' ],
		[ int_max => '2147483647' ],
		[ int_min => '(-2147483648)' ],
		[ n1000 => '1000' ],
		[ n1001 => '1001' ],
	],
	bigint => [
		[ null => 'NULL' ],
		[ zero => '0' ],
		[ minus1 => '-1' ],
		[ int_max => '2147483647' ],
		[ bigint_max => '9223372036854775807' ],
		[ bigint_min => '(-9223372036854775808)' ],
	],
	boolean => [ [ null => 'NULL' ], [ true => 'true' ], [ false => 'false' ] ],
	'double precision' => [
		[ null => 'NULL' ],
		[ nan => q{'NaN'} ],
		[ inf => q{'Infinity'} ],
		[ minus_inf => q{'-Infinity'} ],
		[ zero => '0' ],
		[ minus1 => '-1' ],
		[ huge => '1e308' ],
	],
	'timestamp with time zone' => [
		[ null => 'NULL' ],
		[ infinity => q{'infinity'} ],
		[ minus_infinity => q{'-infinity'} ],
		[ max => q{'294276-12-31 23:59:59+00'} ],
		[ min => q{'4714-11-24 00:00:00+00 BC'} ],
		[ epoch => q{'epoch'} ],
		[ future => q{now() + interval '10 years'} ],
	],
	uuid => [
		[ null => 'NULL' ],
		[ zero => q{'00000000-0000-0000-0000-000000000000'} ],
		[ random => 'gen_random_uuid()' ],
	],
	regrole => [
		[ null => 'NULL' ],
		[ self => q{'fuzzer'} ],
		[ superuser => q{(SELECT rolname FROM pg_roles WHERE oid = 10)} ],
		[ pg_monitor => q{'pg_monitor'} ],
		[ oid0 => q{'-'} ],
	],
	regprocedure => [
		[ null => 'NULL' ],
		[ builtin_jsonb => q{'pg_catalog.jsonb_strip_nulls(jsonb)'} ],
		[ wrong_arg => q{'fuzz_fx.wrong_arg(text)'} ],
		[ wrong_ret => q{'fuzz_fx.wrong_ret(jsonb)'} ],
		[ no_args => q{'pg_catalog.now()'} ],
		[ oid0 => q{'-'} ],
		[ extension_fn => q{'workflow.continue_as_new(jsonb)'} ],
	],
	'bigint[]' => [
		[ null => 'NULL' ],
		[ empty => q{'{}'} ],
		[ null_element => q{'{NULL}'} ],
		[ zero => q{'{0}'} ],
		[ negative => q{'{-1}'} ],
		[ duplicate => q{'{1,1}'} ],
		[ max => q{'{9223372036854775807}'} ],
		[ two_dim => q{'{{1,2},{3,4}}'} ],
		[ n100k => q{(SELECT array_agg(i) FROM generate_series(1, 100000) i)} ],
	],
	'text[]' => [
		[ null => 'NULL' ],
		[ empty => q{'{}'} ],
		[ null_element => q{'{NULL}'} ],
		[ empty_element => q{'{""}'} ],
		[ n10k => q{(SELECT array_agg(i::text) FROM generate_series(1, 10000) i)} ],
	],
);
$pool{'bigint'} = [ @{ $pool{'bigint'} }, [ int_min => '(-2147483648)' ] ];

# Shapes of options objects: every key any function of the extension reads
# (and some it does not), each with values of the wrong kind.
my @option_keys = qw(
  retry retry.initial_interval retry.backoff_coefficient retry.maximum_interval
  retry.maximum_attempts retry.non_retryable_errors start_to_close_timeout
  schedule_to_close_timeout schedule_to_start_timeout heartbeat_timeout queue
  if_exists execution_timeout search_attributes priority concurrency_key
  compensation_options compensation_options.start_to_close_timeout
  max_running max_running_per_key retention max_concurrency rate_limit
  rate_limit.tasks rate_limit.per key_concurrency paused timezone overlap
  catchup_window jitter start_at end_at workflow_options workflow_options.queue
  spec input activity compensation options bogus);
my @option_values = (
	[ null => 'null' ],
	[ true => 'true' ],
	[ zero => '0' ],
	[ minus1 => '-1' ],
	[ int_max => '2147483647' ],
	[ int_over => '2147483648' ],
	[ e400 => '1e400' ],
	[ minus_e400 => '-1e400' ],
	[ half => '0.5' ],
	[ empty => '""' ],
	[ soon => '"soon"' ],
	[ y300k => '"300000 years"' ],
	[ minus_day => '"-1 day"' ],
	[ infinity => '"infinity"' ],
	[ day_minus_hour => '"1 day -1 hour"' ],
	[ micro => '"1 microsecond"' ],
	[ array => '[1, "x", null]' ],
	[ object => '{"a": {"b": 1}}' ],
	[ empty_object => '{}' ],
	[ name10k => 'N10K' ],
	[ quote => q{"a'b\"c"} ],
);

# A jsonb expression for {key: value}, key "a.b" meaning {"a": {"b": value}}.
sub option_expr
{
	my ($key, $value) = @_;
	(my $q = $value) =~ s/'/''/g;
	my $v = $value eq 'N10K' ? q{to_jsonb(repeat('n', 10000))} : "'$q'::jsonb";
	for my $part (reverse split /\./, $key)
	{
		$v = "jsonb_build_object('$part', $v)";
	}
	return $v;
}

my @option_pool;
for my $k (@option_keys)
{
	# every key with the values most likely to hurt
	for my $vname (qw(y300k object e400))
	{
		my ($v) = map { $_->[1] } grep { $_->[0] eq $vname } @option_values;
		push @option_pool, [ "$k=$vname", option_expr($k, $v) ];
	}
}
for (1 .. 60)
{
	my $k = $option_keys[ int(rand(@option_keys)) ];
	my $v = $option_values[ int(rand(@option_values)) ];
	push @option_pool, [ "$k=$v->[0]", option_expr($k, $v->[1]) ];
}
my %seen_option;
@option_pool = grep { !$seen_option{ $_->[0] }++ } @option_pool;

my %name_pool = (
	steps => [
		[ empty_array => q{'[]'} ],
		[ object => q{'{}'} ],
		[ empty_step => q{'[{}]'} ],
		[ null_step => q{'[null]'} ],
		[ numbers => q{'[1, 2, 3]'} ],
		[ activity_object => q{'[{"activity": {"a": 1}, "queue": "fq"}]'} ],
		[ compensation_object => q{'[{"activity": "A", "queue": "fq", "compensation": {"x": 1}}]'} ],
		[ compensation_array => q{'[{"activity": "A", "queue": "fq", "compensation": ["B"]}]'} ],
		[ empty_queue => q{'[{"activity": "A", "queue": ""}]'} ],
		[ bad_queue => q{'[{"activity": "A", "queue": "a\"b"}]'} ],
		[ options_y300k => q{'[{"activity": "A", "queue": "fq", "options": {"start_to_close_timeout": "300000 years"}}]'} ],
		[ options_array => q{'[{"activity": "A", "queue": "fq", "options": []}]'} ],
		[ unknown_key => q{'[{"activity": "A", "queue": "fq", "bogus": 1}]'} ],
		[ activity10k => q{jsonb_build_array(jsonb_build_object('activity', repeat('n', 10000), 'queue', 'fq'))} ],
		[ steps10k => q{(SELECT jsonb_agg(jsonb_build_object('activity', 'A' || i, 'queue', 'fq')) FROM generate_series(1, 10000) i)} ],
	],
	spec => [
		[ every_minute => q{'* * * * *'} ],
		[ minute61 => q{'61 * * * *'} ],
		[ step0 => q{'*/0 * * * *'} ],
		[ six_fields => q{'* * * * * *'} ],
		[ every_neg => q{'every -1 day'} ],
		[ every_zero => q{'every 0 seconds'} ],
		[ every_y300k => q{'every 300000 years'} ],
		[ every_micro => q{'every 1 microsecond'} ],
		[ never => q{'@never'} ],
		[ feb30 => q{'0 0 30 2 *'} ],
		[ range_back => q{'5-1 * * * *'} ],
	],
);
# The newest run of the fuzzer: in code, the calling run itself.
$name_pool{workflow_id} = [
	[ newest_run_self => q{(SELECT workflow_id FROM workflow.workflows WHERE owner = 'fuzzer'::regrole ORDER BY created_at DESC, workflow_id DESC LIMIT 1)} ],
	[ closed_run => q{(SELECT workflow_id FROM workflow.workflows WHERE owner = 'fuzzer'::regrole AND closed_at IS NOT NULL ORDER BY created_at DESC LIMIT 1)} ],
	[ fixture_activity_run => q{(SELECT workflow_id FROM workflow.workflows WHERE workflow_id LIKE 'fz-act-%' ORDER BY created_at DESC LIMIT 1)} ],
];

# The sane value of each argument (by function and name, by name, by type).
my %base_fn = (
	'register_workflow.workflow_type' => q{'fz_reg'},
	'register_saga.workflow_type' => q{'fz_saga'},
	'start_workflow.workflow_type' => q{'fz_echo'},
	'start_workflow.workflow_id' => 'NULL',
	'child_workflow.workflow_type' => q{'fz_echo'},
	'child_workflow.workflow_id' => 'NULL',
	'grant_queue.queue' => q{'fq2'},
	'revoke_queue.queue' => q{'fq2'},
	'wait_signal.timeout' => 'NULL',
	'tick.at' => 'NULL',
	'skip_time.horizon' => q{'1 second'},
);
my %base_name = (
	workflow_type => q{'fz_echo'},
	fn => q{'fuzz_fx.echo(jsonb)'},
	steps => q{'[{"activity": "A", "queue": "fq", "compensation": "UndoA"}]'},
	options => q{'{}'},
	changes => q{'{}'},
	input => q{'{}'},
	workflow_id => q{'fz-wait'},
	signal => q{'go'},
	payload => q{'{}'},
	reason => q{'fuzz'},
	key => q{'k'},
	value => q{'1'},
	activity => q{'A'},
	queue => q{'fq'},
	compensation => 'NULL',
	compensation_input => 'NULL',
	handle => '1',
	handles => q{'{1}'},
	duration => q{'1 day'},
	timeout => q{'10 milliseconds'},
	change_id => q{'p1'},
	task_id => 'fuzz.task()',
	worker_id => q{'fz'},
	max_tasks => '1',
	result => q{'{}'},
	error => q{'boom'},
	retryable => 'true',
	details => 'NULL',
	grantee => q{'fuzzer'},
	schedule_id => q{'fz-sched'},
	spec => q{'every 1 day'},
	note => q{'n'},
	event_id => '1',
	max_runs => '1',
	older_than => q{'100 years'},
	from_time => q{now() - interval '1 hour'},
	to_time => q{now()},
);
my %base_type = (
	text => q{'x'},
	jsonb => q{'{}'},
	interval => q{'1 hour'},
	integer => '1',
	bigint => '1',
	boolean => 'true',
	'double precision' => '1',
	'timestamp with time zone' => 'now()',
	uuid => 'gen_random_uuid()',
	regrole => q{'fuzzer'},
	regprocedure => q{'fuzz_fx.echo(jsonb)'},
	'bigint[]' => q{'{1}'},
	'text[]' => q{'{}'},
);

sub baseline
{
	my ($f, $i) = @_;
	my ($n, $t) = ($f->{names}[$i], $f->{types}[$i]);
	return $base_fn{"$f->{name}.$n"} // $base_name{$n} // $base_type{$t} // 'NULL';
}

# The bad values for argument $i of $f: [label, expression].
sub values_for
{
	my ($f, $i) = @_;
	my ($n, $t) = ($f->{names}[$i], $f->{types}[$i]);
	my @v = @{ $pool{$t} // [ [ null => 'NULL' ] ] };
	push @v, @option_pool if $t eq 'jsonb' && $n =~ /^(options|changes)$/;
	push @v, @{ $name_pool{$n} } if $name_pool{$n};
	return @v;
}

sub call_sql
{
	my ($f, @args) = @_;
	my @typed = map { "($args[$_])::$f->{types}[$_]" } 0 .. $#args;
	my $verb = $f->{kind} eq 'p' ? 'CALL' : 'SELECT';
	return "$verb workflow.$f->{name}(" . join(', ', @typed) . ')';
}

# Every call of one function: [label, sql].
sub calls_for
{
	my ($f) = @_;
	my $n = scalar @{ $f->{types} };
	my @base = map { baseline($f, $_) } 0 .. $n - 1;
	my @calls = ([ 'baseline', call_sql($f, @base) ]);
	push @calls, [ 'all NULL', call_sql($f, ('NULL') x $n) ] if $n > 0;
	if ($f->{ndef} > 0)
	{
		my @req = @base[ 0 .. $n - $f->{ndef} - 1 ];
		push @calls, [ 'required arguments only', call_sql({ %$f, types => [ @{ $f->{types} }[ 0 .. $#req ] ] }, @req) ];
	}
	for my $i (0 .. $n - 1)
	{
		for my $v (values_for($f, $i))
		{
			my @a = @base;
			$a[$i] = $v->[1];
			push @calls, [ "$f->{names}[$i]=$v->[0]", call_sql($f, @a) ];
		}
	}
	for (1 .. ($n > 0 ? $NRANDOM : 0))
	{
		my (@a, @l);
		for my $i (0 .. $n - 1)
		{
			my @v = values_for($f, $i);
			if (rand() < 0.4)
			{
				push @a, $base[$i];
			}
			else
			{
				my $v = $v[ int(rand(@v)) ];
				push @a, $v->[1];
				push @l, "$f->{names}[$i]=$v->[0]";
			}
		}
		push @calls, [ 'random ' . (join(' ', @l) || 'baseline'), call_sql($f, @a) ];
	}
	return @calls;
}

# ------------------------------------------------------------ running calls

my $next_id = 1;
my %crashed;    # "phase fn" => call id
my $conn_fuzzer = $node->connstr($db) . ' user=fuzzer';

sub lit
{
	my ($s) = @_;
	die "dollar quote in $s" if $s =~ /\$fz\$/;
	return "\$fz\$$s\$fz\$";
}

# Run the calls of one function in one phase through one psql session as
# the fuzzer; returns the ids.  If the session is lost (a crash), the call
# in flight is marked 'LOST' and the rest of the function is skipped.
sub run_group
{
	my ($phase, $f, @calls) = @_;
	my $script = "\\set ON_ERROR_STOP 0\n\\o /dev/null\nSET statement_timeout = '3s';\n";
	my @ids;
	for my $c (@calls)
	{
		my ($label, $sql) = @$c;
		my $id = $next_id++;
		push @ids, $id;
		my $wf_id = $phase eq 'in' ? "fzin-$id" : undef;
		my $stmt =
		  $phase eq 'out'
		  ? "$sql;"
		  : "SELECT workflow.start_workflow('fz_in', jsonb_build_object('sql', " . lit($sql) . "), '$wf_id');";
		$script .= "SELECT fuzz.ensure_fixture();\n"
		  . "SELECT fuzz.begin_call($id, '$phase', "
		  . lit($f->{sig}) . ', '
		  . lit($label) . ', '
		  . lit($sql)
		  . ', fuzz.settings(), '
		  . (defined $wf_id ? "'$wf_id'" : 'NULL')
		  . ") AS go \\gset\n"
		  . "\\if :go\n$stmt\n"
		  . "SELECT fuzz.end_call($id, :'SQLSTATE', :'ERROR', :'LAST_ERROR_MESSAGE', fuzz.settings());\n"
		  . "\\endif\n";
	}
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-q', '-d', $conn_fuzzer ], '<', \$script, '>', \$out, '2>', \$err);
	my $rc = $? >> 8;
	return @ids if $rc == 0;

	# The session was lost: note the call in flight, skip the rest.
	wait_for_server($node, 90);
	my ($first, $last) = ($ids[0], $ids[-1]);
	my $lost = $node->safe_psql($db,
		"SELECT min(id) FROM fuzz.calls WHERE id BETWEEN $first AND $last AND sqlstate IS NULL");
	$lost = ($node->safe_psql($db, "SELECT coalesce(max(id), $first - 1) + 1 FROM fuzz.calls WHERE id BETWEEN $first AND $last"))
	  if $lost eq '';
	my ($errtail) = $err =~ /((?:.*\n){0,6})\z/;
	$crashed{"$phase $f->{sig}"} = $lost;
	my %byid = map { $ids[$_] => $calls[$_] } 0 .. $#ids;
	$node->safe_psql(
		$db,
		"INSERT INTO fuzz.calls (id, phase, fn, label, sql, sqlstate) VALUES ($lost, '$phase', "
		  . lit($f->{sig}) . ', '
		  . lit($byid{$lost}[0]) . ', '
		  . lit($byid{$lost}[1])
		  . ", 'LOST') ON CONFLICT (id) DO UPDATE SET sqlstate = 'LOST', message = "
		  . lit("session lost (psql exit $rc): $errtail") . ", violation = '{crash}'");
	$node->safe_psql($db,
		"UPDATE fuzz.calls SET message = " . lit("session lost (psql exit $rc): $errtail") . ", violation = '{crash}' WHERE id = $lost");
	return @ids;
}

my %ncalls;
for my $phase (qw(out in))
{
	my $t_phase = time();
	for my $f (@funcs)
	{
		if ($f->{ret} =~ /^(trigger|event_trigger|internal|language_handler)$/
			|| grep { $_ eq 'internal' } @{ $f->{types} })
		{
			note("$f->{sig}: not callable from SQL, skipped");
			next;
		}
		my @calls = calls_for($f);
		$ncalls{$phase} += @calls;
		run_group($phase, $f, @calls);
	}
	note(sprintf('phase %s: %d calls in %.1f s', $phase, $ncalls{$phase}, time() - $t_phase));
}

# ------------------------------------------------------------ the verdicts

# Show up to $max calls that match $where, one line each.
sub show_calls
{
	my ($where, $max) = @_;
	$max //= 25;
	return $node->safe_psql(
		$db, qq{
SELECT format('#%s %s %s [%s]: %s -> %s %s%s%s', id, phase, fn, label,
			  left(sql, 300), sqlstate,
			  coalesce(left(message, 200), ''),
			  CASE WHEN inner_sqlstate IS NOT NULL THEN ' | in code: ' || inner_sqlstate || ' ' || coalesce(left(inner_message, 200), '') ELSE '' END,
			  ' {' || array_to_string(violation, '; ') || '}'
			  || CASE WHEN changed IS NOT NULL THEN ' changed: ' || array_to_string(changed, ',') ELSE '' END)
  FROM fuzz.calls WHERE $where ORDER BY id LIMIT $max});
}

sub count_calls
{
	my ($where) = @_;
	return $node->safe_psql($db, "SELECT count(*) FROM fuzz.calls WHERE $where");
}

my %checks = (
	'no call got an internal error (SQLSTATE class XX or 58)' =>
	  q{EXISTS (SELECT 1 FROM unnest(violation) v WHERE v ~ '^internal error')},
	'no call lost its session (server crash)' => q{'crash' = ANY (violation)},
	'bad values are refused by validation, not by an overflow later (no 22008/22003)' =>
	  q{(sqlstate IN ('22008', '22003') OR inner_sqlstate IN ('22008', '22003'))},
	'no failing call changed a table of schema workflow' => q{'changed on error' = ANY (violation)},
	'no call changed the session\'s settings' => q{'session settings changed' = ANY (violation)},
	'in code: start_workflow never failed because of the call in the code' =>
	  q{EXISTS (SELECT 1 FROM unnest(violation) v WHERE v ~ '^start_workflow')},
	'in code: no workflow task failed (every error of the call was the code\'s to catch)' =>
	  q{EXISTS (SELECT 1 FROM unnest(violation) v WHERE v ~ '^workflow task failed')},
	'in code: a call that failed left no event or row of its run' =>
	  q{EXISTS (SELECT 1 FROM unnest(violation) v WHERE v ~ '^failed call left')},
);
for my $what (sort keys %checks)
{
	my $n = count_calls($checks{$what});
	is($n, '0', $what) or diag("$n calls:\n" . show_calls($checks{$what}));
}
my $timeouts = count_calls(q{sqlstate IN ('57014', 'skipped')});
note("calls that hit the 3 s statement_timeout or were skipped after 3 of them: $timeouts\n"
	  . show_calls(q{sqlstate IN ('57014', 'skipped')}, 10))
  if $timeouts;
my $stuck = $node->safe_psql($db, 'SELECT string_agg(k, E\'\n\') FROM fuzz.stuck');
note("due work the scheduler did not do within 2 s:\n$stuck") if $stuck ne '';

# ---------------------------------------------- the engine after the fuzz

my @sched = scheduler_pids($node, $db);
is(scalar(@sched), 1, 'the scheduler of the database is running after the fuzz');

my ($rc, $out, $err) = $node->psql($db, 'SELECT workflow.tick()');
is($rc, 0, 'tick() works after the fuzz') or diag($err);
($rc, $out, $err) = $node->psql($db, q{SELECT workflow.tick(now() + interval '1 day')});
is($rc, 0, 'tick() a day ahead works after the fuzz') or diag($err);

my @bad_queues;
for my $q (split /\n/, $node->safe_psql($db, 'SELECT DISTINCT queue FROM workflow.tasks ORDER BY 1'))
{
	my ($qrc, $qout, $qerr) = $node->psql($db,
		'SELECT count(*) FROM workflow.claim_activities($q$' . $q . '$q$, \'fz-final\', 1000)');
	push @bad_queues, "queue \"" . substr($q, 0, 60) . "\": $qerr" if $qrc != 0;
}
is(scalar(@bad_queues), 0, 'every queue with tasks can still be claimed from')
  or diag(join("\n", @bad_queues));

# Close every open run of the fuzzer (each in its own transaction).
my $open = $node->safe_psql(
	$db, q{
SELECT string_agg(format('SELECT workflow.terminate_workflow(%L, ''end of fuzz'');', workflow_id), E'\n')
  FROM workflow.workflows WHERE closed_at IS NULL AND owner = 'fuzzer'::regrole});
my ($tout, $terr) = ('', '');
IPC::Run::run([ 'psql', '-X', '-q', '-d', $conn_fuzzer, '-v', 'ON_ERROR_STOP=0' ],
	'<', \$open, '>', \$tout, '2>', \$terr);
my @term_errors = grep { /ERROR/ } split /\n/, $terr;
is(scalar(@term_errors), 0, 'every open run of the fuzzer could be terminated')
  or diag(join("\n", @term_errors[ 0 .. ($#term_errors < 9 ? $#term_errors : 9) ]));

is( $node->safe_psql(
		$db, q{
SELECT coalesce(string_agg(x, E'\n'), '') FROM (
	SELECT 'task ' || t.task_id || ' of ' || t.workflow_id || ' (' || w.status || ')' AS x
	  FROM workflow.tasks t JOIN workflow.workflows w USING (workflow_id, run_id)
	 WHERE w.closed_at IS NOT NULL
	   AND NOT (t.status = 'running' AND t.cancel_requested)	-- withdrawn; goes at report or lease end
	UNION ALL
	SELECT 'timer of ' || t.workflow_id || ' (' || w.status || ')'
	  FROM workflow.timers t JOIN workflow.workflows w USING (workflow_id, run_id) WHERE w.closed_at IS NOT NULL
	UNION ALL
	SELECT 'signal of ' || s.workflow_id || ' (' || w.status || ')'
	  FROM workflow.signals s JOIN workflow.workflows w USING (workflow_id, run_id) WHERE w.closed_at IS NOT NULL
	UNION ALL
	SELECT 'child notice for ' || n.workflow_id
	  FROM workflow.child_notices n JOIN workflow.workflows w USING (workflow_id, run_id) WHERE w.closed_at IS NOT NULL
	LIMIT 20) l}),
	'',
	'no task, timer, signal or child notice is left for a closed run');

my @problems = history_problems($node, $db);
is(scalar(@problems), 0, 'the history is sound') or diag(join("\n", @problems));

# ------------------------------------------------------------ the server log

my $log = slurp_file($node->logfile);
my @log_lines = split /\n/, $log;
my %log_checks = (
	'no backend was terminated by a signal (crash)' => qr/terminated by signal|server process .* was terminated|PANIC|TRAP:/,
	'no internal (XX) or system (58) error in the server log' => qr/(?:ERROR|FATAL):\s+(?:XX|58)[0-9A-Z]{3}:/,
	'the scheduler never exited (no crash loop)' => qr/background worker "workflow (?:scheduler|launcher)[^"]*" \(PID \d+\) exited/,
);
for my $what (sort keys %log_checks)
{
	my @hits;
	for my $i (0 .. $#log_lines)
	{
		next unless $log_lines[$i] =~ $log_checks{$what};
		my $ctx = join("\n", @log_lines[ ($i > 2 ? $i - 2 : 0) .. ($i + 3 > $#log_lines ? $#log_lines : $i + 3) ]);
		push @hits, substr($ctx, 0, 1500);
	}
	is(scalar(@hits), 0, $what)
	  or diag(scalar(@hits) . " lines, the first ones with context:\n" . join("\n--\n", @hits[ 0 .. ($#hits < 4 ? $#hits : 4) ]));
}

# ------------------------------------------------------------ summary

note(
	"outcomes per function and phase (sqlstate x count):\n"
	  . $node->safe_psql(
		$db, q{
SELECT phase || ' ' || fn || ': ' || string_agg(s || ' x' || n, ', ' ORDER BY n DESC, s)
  FROM (SELECT phase, fn, coalesce(CASE WHEN phase = 'in' AND sqlstate = '00000' THEN 'code ' || coalesce(inner_sqlstate, 'suspended') ELSE sqlstate END, '?') s,
			   count(*) n FROM fuzz.calls GROUP BY 1, 2, 3) x
 GROUP BY phase, fn ORDER BY phase DESC, fn}));
note('crashed groups: ' . join(', ', map { "$_ (call $crashed{$_})" } sort keys %crashed)) if %crashed;
note("calls: out $ncalls{out}, in $ncalls{in}; seed $SEED; run time: " . elapsed_since($t_start) . ' s');

$node->stop('immediate');
done_testing();
