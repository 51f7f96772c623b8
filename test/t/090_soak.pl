# Fault-injection soak: 1,050 multi-step workflows (and their 150 child
# runs) driven by several workflow-worker processes with flaky handlers,
# while the test keeps breaking things.
#
# Workflow types (i = 1..N, type by i mod 7, input {"n": i}):
#   sk_saga    Reserve (comp. Release), Charge (comp. Refund), Ship  -> completed
#   sk_timer   Step, sleep 300 ms, Step, sleep 200 ms                -> completed
#   sk_fan     4 x activity_async Fan on two queues, wait_all         -> completed
#   sk_parent  Step, child_workflow sk_child (Step, sleep 100 ms)     -> completed
#   sk_doom    Reserve (comp. Release), Charge (comp. Refund), Doom
#              (fails for good)                   -> compensated, Refund then Release
#   sk_fail    Step, Doom (no compensation)                           -> failed
#   sk_raise   Reserve (comp. Release), sleep 100 ms, RAISE EXCEPTION -> compensated
# The handler (test/shell/handlers/soak.sh) fails about a quarter of the
# first and second attempts retryably, deterministically per activity and
# attempt; every result is {"v": n*100 + k}, so each run's result is known.
#
# Injected while the runs go (each at least once, most twice): the
# scheduler terminated (pg_terminate_backend) and killed with SIGKILL
# (a crash restart of the server), the workers' backends terminated
# mid-transaction, workflow-worker processes killed with SIGKILL and
# restarted, the postmaster stopped in immediate mode and restarted (crash
# recovery), and all along one worker runs with statement_timeout = 5 ms.
#
# Then: every run has its expected status and result; every history is
# 1..n without gaps, with one WorkflowStarted, exactly one closing event
# (the last one), no step recorded twice, compensations once each and in
# reverse order; no task, timer, child notice or signal is left; no
# internal error or crash other than the ones injected.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use WorkflowTest;

my $N = $ENV{WF_SOAK_RUNS} // 1050;
my $WAVES = 4;
my $t_start = time();

my $repo = $ENV{WF_REPO} // "$FindBin::RealBin/../..";
my $handler = "$repo/test/shell/handlers/soak.sh";
my $worker_bin = $ENV{WF_WORKER} // 'workflow-worker';
plan skip_all => "$handler is not executable" unless -x $handler;
plan skip_all => "$worker_bin not found" unless system("command -v $worker_bin >/dev/null 2>&1") == 0;

my $node = new_node(
	'soak', extra_conf => q{
log_error_verbosity = verbose
log_min_error_statement = panic
max_connections = 60
workflow.task_retry_initial = 100
workflow.task_retry_max = 2000
workflow.default_start_to_close_timeout = 4000
});
my $db = 'postgres';
my $logdir = tempdir('wf-soak-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# ------------------------------------------------------------------ setup

$node->safe_psql(
	$db, q{
CREATE EXTENSION workflow;
CREATE ROLE soak LOGIN;
SELECT workflow.grant_queue('sq1', 'soak');
SELECT workflow.grant_queue('sq2', 'soak');
SELECT workflow.grant_queue('*', 'soak', 'produce');
CREATE SCHEMA soak AUTHORIZATION soak;
SET ROLE soak;

CREATE FUNCTION soak.opts() RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
SELECT '{"retry": {"initial_interval": "100 milliseconds", "maximum_interval": "400 milliseconds"},
		 "start_to_close_timeout": "4 seconds"}'::jsonb
$$;
CREATE FUNCTION soak.inp(n int, k int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
SELECT jsonb_build_object('n', n, 'k', k)
$$;

CREATE FUNCTION soak.saga(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n int := (input->>'n')::int;
	a jsonb; b jsonb; c jsonb;
BEGIN
	a := workflow.activity('Reserve', soak.inp(n, 1), 'sq1', soak.opts(), 'Release', soak.inp(n, 11));
	b := workflow.activity('Charge', soak.inp(n, 2), 'sq2', soak.opts(), 'Refund', soak.inp(n, 12));
	c := workflow.activity('Ship', soak.inp(n, 3), 'sq1', soak.opts());
	RETURN jsonb_build_object('sum', (a->>'v')::int + (b->>'v')::int + (c->>'v')::int);
END $$;

CREATE FUNCTION soak.timer(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n int := (input->>'n')::int;
	a jsonb; b jsonb;
BEGIN
	a := workflow.activity('Step', soak.inp(n, 1), 'sq1', soak.opts());
	PERFORM workflow.sleep('300 milliseconds');
	b := workflow.activity('Step', soak.inp(n, 2), 'sq2', soak.opts());
	PERFORM workflow.sleep('200 milliseconds');
	RETURN jsonb_build_object('sum', (a->>'v')::int + (b->>'v')::int);
END $$;

CREATE FUNCTION soak.fan(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n int := (input->>'n')::int;
	h bigint[] := '{}';
	r jsonb;
BEGIN
	FOR k IN 1 .. 4 LOOP
		h := h || workflow.activity_async('Fan', soak.inp(n, k), CASE WHEN k % 2 = 0 THEN 'sq2' ELSE 'sq1' END,
										  soak.opts());
	END LOOP;
	r := workflow.wait_all(h);
	RETURN jsonb_build_object('sum', (SELECT sum((e->>'v')::int) FROM jsonb_array_elements(r) e),
							  'count', jsonb_array_length(r));
END $$;

CREATE FUNCTION soak.child(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n int := (input->>'n')::int;
	a jsonb;
BEGIN
	a := workflow.activity('Step', soak.inp(n, 5), 'sq2', soak.opts());
	PERFORM workflow.sleep('100 milliseconds');
	RETURN jsonb_build_object('sum', (a->>'v')::int);
END $$;

CREATE FUNCTION soak.parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n int := (input->>'n')::int;
	a jsonb; c jsonb;
BEGIN
	a := workflow.activity('Step', soak.inp(n, 1), 'sq1', soak.opts());
	c := workflow.child_workflow('sk_child', jsonb_build_object('n', n), 'skc-' || n);
	RETURN jsonb_build_object('sum', (a->>'v')::int + (c->>'sum')::int);
END $$;

CREATE FUNCTION soak.doom(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n int := (input->>'n')::int;
BEGIN
	PERFORM workflow.activity('Reserve', soak.inp(n, 1), 'sq1', soak.opts(), 'Release', soak.inp(n, 11));
	PERFORM workflow.activity('Charge', soak.inp(n, 2), 'sq2', soak.opts(), 'Refund', soak.inp(n, 12));
	PERFORM workflow.activity('Doom', soak.inp(n, 3), 'sq1', soak.opts());
	RETURN '"not reached"';
END $$;

CREATE FUNCTION soak.fail(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n int := (input->>'n')::int;
BEGIN
	PERFORM workflow.activity('Step', soak.inp(n, 1), 'sq2', soak.opts());
	PERFORM workflow.activity('Doom', soak.inp(n, 2), 'sq1', soak.opts());
	RETURN '"not reached"';
END $$;

CREATE FUNCTION soak.raise(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n int := (input->>'n')::int;
BEGIN
	PERFORM workflow.activity('Reserve', soak.inp(n, 1), 'sq2', soak.opts(), 'Release', soak.inp(n, 11));
	PERFORM workflow.sleep('100 milliseconds');
	RAISE EXCEPTION 'planned raise in run %', n;
END $$;

SELECT workflow.register_workflow('sk_saga', 'soak.saga(jsonb)');
SELECT workflow.register_workflow('sk_timer', 'soak.timer(jsonb)');
SELECT workflow.register_workflow('sk_fan', 'soak.fan(jsonb)');
SELECT workflow.register_workflow('sk_child', 'soak.child(jsonb)');
SELECT workflow.register_workflow('sk_parent', 'soak.parent(jsonb)');
SELECT workflow.register_workflow('sk_doom', 'soak.doom(jsonb)');
SELECT workflow.register_workflow('sk_fail', 'soak.fail(jsonb)');
SELECT workflow.register_workflow('sk_raise', 'soak.raise(jsonb)');

/* The type of run i, and what it must end with. */
CREATE FUNCTION soak.type_of(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
SELECT (ARRAY['sk_saga', 'sk_timer', 'sk_fan', 'sk_parent', 'sk_doom', 'sk_fail', 'sk_raise'])[i % 7 + 1]
$$;
CREATE FUNCTION soak.expected_status(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
SELECT CASE t WHEN 'sk_doom' THEN 'compensated' WHEN 'sk_raise' THEN 'compensated'
			  WHEN 'sk_fail' THEN 'failed' ELSE 'completed' END
$$;
CREATE FUNCTION soak.expected_result(t text, n int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
SELECT CASE t
	WHEN 'sk_saga' THEN jsonb_build_object('sum', 300 * n + 6)
	WHEN 'sk_timer' THEN jsonb_build_object('sum', 200 * n + 3)
	WHEN 'sk_fan' THEN jsonb_build_object('sum', 400 * n + 10, 'count', 4)
	WHEN 'sk_parent' THEN jsonb_build_object('sum', 200 * n + 6)
	WHEN 'sk_child' THEN jsonb_build_object('sum', 100 * n + 5)
	END
$$;
/* The compensations a run must have run, in order. */
CREATE FUNCTION soak.expected_compensations(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
SELECT CASE t WHEN 'sk_doom' THEN 'Refund,Release' WHEN 'sk_raise' THEN 'Release' END
$$;
});

# ------------------------------------------------------------ the workers

my %workers;    # name => {pid, env, log, kills}
my $conn = $node->connstr($db) . ' user=soak';
# (the TAP framework sets PGAPPNAME, so the workers name themselves)

sub spawn_worker
{
	my ($name, %env) = @_;
	my $log = "$logdir/$name.log";
	my @cmd = (
		$worker_bin, '-d', "$conn application_name=workflow-worker-$name", '-q', 'sq1', '-q', 'sq2',
		'-c', '4', '-b', '4', '--poll-interval', '0.5', '--timeout', '10',
		'--grace', '2', '--kill-grace', '1', '--worker-id', $name,
		map { ('--handler', "$_=$handler") } qw(Reserve Charge Ship Step Fan Doom Release Refund));
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>>', $log) or die;
		open(STDERR, '>&', \*STDOUT) or die;
		$ENV{SOAK_DELAY} = '0.2';
		$ENV{$_} = $env{$_} for keys %env;
		exec(@cmd) or die "exec $worker_bin: $!";
	}
	$workers{$name}{pid} = $pid;
	$workers{$name}{env} = \%env;
	$workers{$name}{log} = $log;
	return $pid;
}

sub reap
{
	my ($pid, $timeout) = @_;
	my $deadline = time() + ($timeout // 10);
	while (time() < $deadline)
	{
		my $r = waitpid($pid, WNOHANG);
		return $? if $r == $pid || $r == -1;
		usleep(50_000);
	}
	kill('KILL', $pid);
	waitpid($pid, 0);
	return -1;
}

# Never leave a worker behind, whatever happens to the test.
END
{
	kill('KILL', $workers{$_}{pid}) for grep { $workers{$_}{pid} } keys %workers;
}

spawn_worker("w$_") for 1 .. 3;
spawn_worker('wtimeout', PGOPTIONS => '-c statement_timeout=5ms');

# ------------------------------------------------------------ the faults

my %injected;
my @timeline;

sub mark
{
	my ($what, $detail) = @_;
	$injected{$what}++;
	push @timeline, sprintf('%6.1f s  %s%s', time() - $t_start, $what, $detail ? " ($detail)" : '');
}

sub scheduler_pid
{
	my @p = eval { scheduler_pids($node, $db) };
	return $p[0];
}

# Start runs lo..hi in one transaction; retried if the server went away
# (the wave is atomic: it exists or it does not).
sub start_wave
{
	my ($lo, $hi) = @_;
	for my $try (1 .. 20)
	{
		my ($rc, $out, $err) = $node->psql($db,
			"SET ROLE soak; SELECT count(workflow.start_workflow(soak.type_of(i), jsonb_build_object('n', i), 'sk-' || i))"
			  . " FROM generate_series($lo, $hi) i");
		return 1 if $rc == 0;
		wait_for_server($node, 60);
		my ($rc2, $exists) = $node->psql($db, "SELECT count(*) > 0 FROM workflow.workflows WHERE workflow_id = 'sk-$lo'");
		return 1 if $rc2 == 0 && $exists eq 't';
		note("wave $lo..$hi failed (try $try): $err");
		sleep(1);
	}
	return 0;
}

sub terminate_scheduler
{
	my $pid = scheduler_pid() or return mark('scheduler terminate skipped', 'no scheduler running');
	$node->psql($db, "SELECT pg_terminate_backend($pid)");
	mark('scheduler terminated (pg_terminate_backend)', "pid $pid");
}

sub kill9_scheduler
{
	my $pid = scheduler_pid() or return mark('scheduler SIGKILL skipped', 'no scheduler running');
	kill('KILL', $pid);
	mark('scheduler killed with SIGKILL (crash restart)', "pid $pid");
	usleep(500_000);
	wait_for_server($node, 60);
}

# Terminate the workers' backends, preferring those inside a transaction
# or a statement; several rounds so that some are caught mid-flight.
sub terminate_worker_backends
{
	my ($busy, $all) = (0, 0);
	for my $round (1 .. 10)
	{
		my ($rc, $out) = $node->psql(
			$db, q{
SELECT count(*) FILTER (WHERE state <> 'idle') || ' ' || count(*)
  FROM (SELECT state, pg_terminate_backend(pid) FROM pg_stat_activity
		 WHERE application_name LIKE 'workflow-worker-%' AND pid <> pg_backend_pid()
		   AND backend_type = 'client backend') t});
		if ($rc == 0 && $out =~ /^(\d+) (\d+)$/)
		{
			$busy += $1;
			$all += $2;
		}
		usleep(100_000);
	}
	mark('worker backends terminated', "$all backends, $busy of them in a statement or transaction");
}

my $kill_turn = 0;

sub kill9_worker
{
	my @names = grep { /^w\d/ } sort keys %workers;
	my $name = $names[ $kill_turn++ % @names ];
	kill('KILL', $workers{$name}{pid});
	reap($workers{$name}{pid}, 5);
	$workers{$name}{kills}++;
	mark('workflow-worker killed with SIGKILL and restarted', $name);
	spawn_worker($name, %{ $workers{$name}{env} });
}

sub crash_postmaster
{
	$node->stop('immediate');
	mark('postmaster stopped in immediate mode (crash recovery at start)');
	usleep(300_000);
	$node->start;
	wait_for_server($node, 60);
}

my $per_wave = int(($N + $WAVES - 1) / $WAVES);
my @waves = map { [ $_ * $per_wave + 1, ($_ + 1) * $per_wave < $N ? ($_ + 1) * $per_wave : $N ] } 0 .. $WAVES - 1;
# Each fault waits (up to 3 s) until some task is claimed, so that it hits
# work in flight; all four waves start early so there is a backlog.
sub when_busy
{
	my ($fault) = @_;
	return sub {
		poll($node, $db, q{SELECT count(*) > 0 FROM workflow.tasks WHERE status = 'running'}, 't', 3);
		$fault->();
	};
}
my @plan = (
	sub { ok(start_wave(@{ $waves[0] }), "wave 1 started: runs $waves[0][0]..$waves[0][1]") },
	sub { ok(start_wave(@{ $waves[1] }), "wave 2 started: runs $waves[1][0]..$waves[1][1]") },
	when_busy(\&terminate_worker_backends),
	sub { ok(start_wave(@{ $waves[2] }), "wave 3 started: runs $waves[2][0]..$waves[2][1]") },
	when_busy(\&terminate_scheduler),
	when_busy(\&kill9_worker),
	sub { ok(start_wave(@{ $waves[3] }), "wave 4 started: runs $waves[3][0]..$waves[3][1]") },
	when_busy(\&kill9_scheduler),
	when_busy(\&terminate_worker_backends),
	when_busy(\&crash_postmaster),
	when_busy(\&kill9_worker),
	when_busy(\&terminate_scheduler),
	when_busy(\&terminate_worker_backends),
	when_busy(\&kill9_worker),
	when_busy(\&kill9_scheduler),
	when_busy(\&crash_postmaster),
	when_busy(\&terminate_worker_backends),
);
for my $step (@plan)
{
	$step->();
	sleep(2);
}
my $t_chaos = time();

# ------------------------------------------------------------ calm

my $all_closed = poll($node, $db,
	"SELECT count(*) = 0 FROM workflow.workflows WHERE closed_at IS NULL", 't', 150);
ok($all_closed, 'every run closed (' . sprintf('%.0f', time() - $t_chaos) . ' s after the last fault)');
unless ($all_closed)
{
	diag("open runs, by type and what they wait on:\n"
		  . $node->safe_psql(
			$db, q{
SELECT w.workflow_type || ' ' || w.status || ': ' || count(*) || ' runs, e.g. ' || min(w.workflow_id)
	   || ' tasks ' || coalesce((SELECT string_agg(t.status || ' ' || t.activity || ' attempt ' || t.attempt, ', ')
								   FROM workflow.tasks t WHERE t.workflow_id = min(w.workflow_id)), '-')
	   || ' timers ' || (SELECT count(*) FROM workflow.timers t WHERE t.workflow_id = min(w.workflow_id))
	   || ' task_failures ' || max(w.task_failures)
  FROM workflow.workflows w WHERE w.closed_at IS NULL GROUP BY 1 ORDER BY 1}));
}

# Stop the workers (SIGTERM: they report what they run and exit 0).
for my $name (sort keys %workers)
{
	kill('TERM', $workers{$name}{pid});
}
for my $name (sort keys %workers)
{
	my $st = reap($workers{$name}{pid}, 20);
	is($st, 0, "workflow-worker $name exited cleanly on SIGTERM");
}

# ------------------------------------------------------------ verdicts

is( $node->safe_psql(
		$db, qq{
SELECT count(*) FROM workflow.workflows
 WHERE workflow_id LIKE 'sk-%' AND status <> 'continued_as_new'}),
	$N,
	"$N top-level runs exist, one run each");
is( $node->safe_psql($db, q{SELECT count(*) FROM workflow.workflows WHERE workflow_id LIKE 'skc-%'}),
	$node->safe_psql($db, "SELECT count(*) FROM generate_series(1, $N) i WHERE soak.type_of(i) = 'sk_parent'"),
	'one child run per parent');

my $wrong = $node->safe_psql(
	$db, qq{
WITH e AS (
	SELECT 'sk-' || i AS workflow_id, soak.type_of(i) AS t, i AS n FROM generate_series(1, $N) i
	UNION ALL
	SELECT 'skc-' || i, 'sk_child', i FROM generate_series(1, $N) i WHERE soak.type_of(i) = 'sk_parent')
SELECT coalesce(string_agg(format('%s (%s): %s %s, expected %s %s', e.workflow_id, e.t,
								  coalesce(w.status, 'missing'), coalesce(w.result::text, coalesce(w.error::text, '')),
								  soak.expected_status(e.t), coalesce(soak.expected_result(e.t, e.n)::text, '')),
						   E'\n' ORDER BY e.n), '')
  FROM e LEFT JOIN workflow.workflows w ON w.workflow_id = e.workflow_id
 WHERE w.status IS DISTINCT FROM soak.expected_status(e.t)
	OR (soak.expected_result(e.t, e.n) IS NOT NULL AND w.result IS DISTINCT FROM soak.expected_result(e.t, e.n))
	OR (soak.expected_result(e.t, e.n) IS NULL AND w.error::text NOT LIKE '%planned%')});
my @wrong = split /\n/, $wrong;
is(scalar(@wrong), 0, 'every run has its expected status and result')
  or diag(scalar(@wrong) . " runs:\n" . join("\n", @wrong[ 0 .. ($#wrong < 19 ? $#wrong : 19) ]));

my @problems = history_problems($node, $db);
is(scalar(@problems), 0, 'every history is gapless, no step or attempt recorded twice')
  or diag(join("\n", @problems));

my %hist_checks = (
	'each run has one WorkflowStarted (event 1) and exactly one closing event, the last' => q{
SELECT w.workflow_id || ': ' || coalesce(string_agg(h.event_type || '@' || h.event_id, ',' ORDER BY h.event_id)
	   FILTER (WHERE h.event_type IN ('WorkflowStarted', 'WorkflowCompleted', 'WorkflowFailed', 'WorkflowCompensated',
		   'WorkflowCancelled', 'WorkflowTerminated', 'WorkflowTimedOut', 'WorkflowContinuedAsNew')), '') || ' of ' || max(h.event_id)
  FROM workflow.workflows w JOIN workflow.history h USING (workflow_id, run_id)
 GROUP BY w.workflow_id, w.run_id
HAVING count(*) FILTER (WHERE h.event_type = 'WorkflowStarted' AND h.event_id = 1) <> 1
	OR count(*) FILTER (WHERE h.event_type = 'WorkflowStarted') <> 1
	OR count(*) FILTER (WHERE h.event_type IN ('WorkflowCompleted', 'WorkflowFailed', 'WorkflowCompensated',
		   'WorkflowCancelled', 'WorkflowTerminated', 'WorkflowTimedOut', 'WorkflowContinuedAsNew')) <> 1
	OR max(h.event_id) <> max(h.event_id) FILTER (WHERE h.event_type IN ('WorkflowCompleted', 'WorkflowFailed',
		   'WorkflowCompensated', 'WorkflowCancelled', 'WorkflowTerminated', 'WorkflowTimedOut', 'WorkflowContinuedAsNew'))},
	'no compensation scheduled or completed twice' => q{
SELECT workflow_id || ' seq ' || (data->>'seq') || ' ' || event_type || ' x' || count(*)
  FROM workflow.history
 WHERE event_type = 'CompensationScheduled'
	OR (event_type = 'ActivityCompleted' AND data @> '{"is_compensation": true}')
 GROUP BY workflow_id, run_id, data->>'seq', event_type HAVING count(*) > 1},
	'compensations ran in reverse order of completion, each completed' => q{
SELECT w.workflow_id || ': ' || coalesce(c.acts, '(none)') || ', expected ' || soak.expected_compensations(w.workflow_type)
	   || ', ' || coalesce(d.n, 0) || ' completed'
  FROM workflow.workflows w
  LEFT JOIN LATERAL (SELECT string_agg(h.data->>'activity', ',' ORDER BY h.event_id) acts FROM workflow.history h
					  WHERE h.workflow_id = w.workflow_id AND h.run_id = w.run_id
						AND h.event_type = 'CompensationScheduled') c ON true
  LEFT JOIN LATERAL (SELECT count(*) n FROM workflow.history h
					  WHERE h.workflow_id = w.workflow_id AND h.run_id = w.run_id
						AND h.event_type = 'ActivityCompleted' AND h.data @> '{"is_compensation": true}') d ON true
 WHERE soak.expected_compensations(w.workflow_type) IS NOT NULL
   AND (c.acts IS DISTINCT FROM soak.expected_compensations(w.workflow_type)
		OR d.n <> cardinality(string_to_array(soak.expected_compensations(w.workflow_type), ',')))},
	'no compensation in a run that completed' => q{
SELECT DISTINCT h.workflow_id FROM workflow.history h JOIN workflow.workflows w USING (workflow_id, run_id)
 WHERE w.status = 'completed' AND h.event_type = 'CompensationScheduled'},
	'the run\'s steps each completed once: one result per (run, seq)' => q{
SELECT w.workflow_id || ' has ' || count(*) || ' completed activities, '
	   || count(DISTINCT h.data->>'seq') || ' distinct seqs'
  FROM workflow.workflows w JOIN workflow.history h USING (workflow_id, run_id)
 WHERE h.event_type = 'ActivityCompleted' AND NOT h.data @> '{"is_compensation": true}'
 GROUP BY w.workflow_id, w.run_id HAVING count(*) <> count(DISTINCT h.data->>'seq')},
	'no attempt has two outcomes (completed, failed, timed out)' => q{
SELECT workflow_id || ' seq ' || (data->>'seq') || ' attempt ' || (data->>'attempt') || ': '
	   || string_agg(event_type, ',' ORDER BY event_id)
  FROM workflow.history
 WHERE event_type IN ('ActivityCompleted', 'ActivityFailed', 'ActivityTimedOut') AND data ? 'attempt'
 GROUP BY workflow_id, run_id, data->>'seq', data->>'attempt', coalesce((data->>'is_compensation')::boolean, false)
HAVING count(*) > 1},
	'no task, timer, child notice or signal is left' => q{
SELECT 'task ' || task_id || ' ' || workflow_id || ' ' || status FROM workflow.tasks
UNION ALL SELECT 'timer ' || workflow_id || ' ' || seq FROM workflow.timers
UNION ALL SELECT 'child notice ' || workflow_id || ' <- ' || child_workflow_id FROM workflow.child_notices
UNION ALL SELECT 'signal ' || workflow_id || ' ' || signal FROM workflow.signals},
	'no workflow task failed with an internal error' => q{
SELECT workflow_id || ': ' || (data->'error'->>'sqlstate') || ' ' || (data->'error'->>'message')
  FROM workflow.history
 WHERE event_type = 'WorkflowTaskFailed' AND data->'error'->>'sqlstate' ~ '^(XX|58)'},
);
for my $what (sort keys %hist_checks)
{
	my ($rc, $out, $err) = $node->psql($db, $hist_checks{$what});
	my @lines = $rc == 0 ? grep { length } split /\n/, $out : ("query failed: $err");
	is(scalar(@lines), 0, $what)
	  or diag(scalar(@lines) . " problems:\n" . join("\n", @lines[ 0 .. ($#lines < 9 ? $#lines : 9) ]));
}

is(scalar(scheduler_pids($node, $db)), 1, 'the scheduler is running at the end');

# ------------------------------------------------------------ server log

my @log_lines = split /\n/, slurp_file($node->logfile);
my %log_checks = (
	'no backend crashed (only the SIGKILLs the test sent)' =>
	  qr/terminated by signal (?!9:)|was terminated by exception|PANIC|TRAP:/,
	'no internal (XX) or system (58) error in the server log' => qr/(?:ERROR|FATAL):\s+(?:XX|58)[0-9A-Z]{3}:/,
);
for my $what (sort keys %log_checks)
{
	my @hits;
	for my $i (0 .. $#log_lines)
	{
		next unless $log_lines[$i] =~ $log_checks{$what};
		push @hits, join("\n", @log_lines[ ($i > 2 ? $i - 2 : 0) .. ($i + 2 > $#log_lines ? $#log_lines : $i + 2) ]);
	}
	is(scalar(@hits), 0, $what)
	  or diag(scalar(@hits) . " hits, the first:\n" . join("\n--\n", @hits[ 0 .. ($#hits < 4 ? $#hits : 4) ]));
}
ok( $node->safe_psql($db, q{SELECT count(*) > 0 FROM workflow.history WHERE event_type = 'ActivityTimedOut'
		OR (event_type = 'ActivityFailed' AND data->>'error' = 'worker session ended')}) eq 't',
	'the faults hit claimed tasks: some came back after their lease (ActivityTimedOut)'
	  . ' or their worker\'s session ended (ActivityFailed)');
my $timeouts = grep { /57014: canceling statement due to statement timeout/ } @log_lines;
ok($timeouts > 0, "the worker with statement_timeout = 5 ms had statements cancelled ($timeouts)");

# ------------------------------------------------------------ summary

my %wstats;
for my $name (sort keys %workers)
{
	my $text = -e $workers{$name}{log} ? slurp_file($workers{$name}{log}) : '';
	$wstats{$name} = sprintf(
		'%s: %d tasks completed, %d failed, %d reports rejected, %d connections lost, %d statement timeouts, %d SIGKILLs',
		$name,
		scalar(() = $text =~ /outcome=completed/g),
		scalar(() = $text =~ /outcome=failed/g),
		scalar(() = $text =~ /report=rejected/g),
		scalar(() = $text =~ /connection lost/g),
		scalar(() = $text =~ /statement timeout/g),
		$workers{$name}{kills} // 0);
}
note("injected:\n  " . join("\n  ", map { "$_: $injected{$_}" } sort keys %injected));
note("timeline:\n  " . join("\n  ", @timeline));
note("workers:\n  " . join("\n  ", map { $wstats{$_} } sort keys %wstats));
note(
	"engine:\n"
	  . $node->safe_psql(
		$db, q{
SELECT '  ' || event_type || coalesce(' ' || (data->>'timeout_type'), '')
	   || CASE WHEN event_type = 'ActivityFailed' THEN ' ' || regexp_replace(left(data->>'error', 60), '(of \w+ attempt \d+ \(h=\d+\)|of \w+$)', '') ELSE '' END || ': ' || count(*)
  FROM workflow.history
 WHERE event_type IN ('ActivityFailed', 'ActivityTimedOut', 'WorkflowTaskFailed', 'TimerFired', 'ActivityCompleted',
					  'CompensationScheduled', 'ChildWorkflowCompleted')
 GROUP BY event_type, coalesce(' ' || (data->>'timeout_type'), ''),
		  CASE WHEN event_type = 'ActivityFailed' THEN ' ' || regexp_replace(left(data->>'error', 60), '(of \w+ attempt \d+ \(h=\d+\)|of \w+$)', '') ELSE '' END
 ORDER BY 1})
	  . "\n  runs by status: "
	  . $node->safe_psql($db,
		q{SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) n FROM workflow.workflows GROUP BY 1) s}));
note("run time: " . elapsed_since($t_start) . ' s (faults for ' . sprintf('%.0f', $t_chaos - $t_start) . ' s)');

$node->stop('immediate');
done_testing();
