# Crashes of the whole server lose and repeat nothing.
#
# 200 workflows (activity on q_a, 300 ms durable timer, activity on q_b,
# activity on q_a) run with three workers.  Mid-run the server goes down
# in an immediate shutdown (no checkpoint: crash recovery on restart);
# later, mid-run again, the database's scheduler is killed with SIGKILL,
# so the postmaster resets every process (crash restart); later again the
# postmaster and all its processes are killed with SIGKILL at once (as on
# a power loss or a container kill).  Each time the workers die with their
# connections and new ones start.
#
# Then: every workflow completed with the right result; the history of each
# run is 1..N without gaps; no activity, timer or attempt was recorded
# twice; every ActivityCompleted matches exactly one committed report by a
# worker; the tasks claimed when the server died came back after their
# lease (ActivityTimedOut); no task or timer row is left.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use WorkflowTest;

my $N = 200;
my $t_start = time();
my $node = new_node('crash');
my $db = 'postgres';

$node->safe_psql($db, 'CREATE EXTENSION workflow');
setup_worker_schema($node, $db);
$node->safe_psql(
	$db, q{
CREATE FUNCTION three_steps(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	opts jsonb := '{"retry": {"initial_interval": "100 milliseconds", "maximum_interval": "500 milliseconds"},
					"start_to_close_timeout": "2 seconds"}';
	a jsonb; b jsonb; c jsonb;
BEGIN
	a := workflow.activity('StepA', input, 'q_a', opts);
	PERFORM workflow.sleep('300 milliseconds');
	b := workflow.activity('StepB', a, 'q_b', opts);
	c := workflow.activity('StepC', b, 'q_a', opts);
	RETURN jsonb_build_object('n', c->'n', 'last', c->>'activity');
END $$;
SELECT workflow.register_workflow('three_steps', 'three_steps(jsonb)');
});

is( $node->safe_psql(
		$db,
		"SELECT count(workflow.start_workflow('three_steps', jsonb_build_object('n', i), 'wf-' || i))"
		  . " FROM generate_series(1, $N) i"),
	$N,
	"$N workflows started");

my $completed_sql = q{SELECT count(*) FROM workflow.history WHERE event_type = 'ActivityCompleted'};

sub start_workers
{
	my ($round) = @_;
	return map {
		start_worker($node, $db,
			name => "r$round-w$_",
			queues => [ 'q_a', 'q_b' ],
			batch => 2,
			work_ms => 10)
	} 1 .. 3;
}

# The pids of the children of a process.
sub children_of
{
	my ($parent) = @_;
	my @kids;
	for my $stat (glob('/proc/[0-9]*/stat'))
	{
		open(my $fh, '<', $stat) or next;
		my $line = <$fh>;
		close($fh);
		next unless defined $line && $line =~ /^(\d+) \(.*\) \S (\d+) /s;
		push @kids, $1 if $2 == $parent;
	}
	return @kids;
}

# Wait until none of the processes exists any more.
sub wait_gone
{
	my (@pids) = @_;
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		return 1 unless grep { kill(0, $_) } @pids;
		usleep(50_000);
	}
	diag('still alive: ' . join(' ', grep { kill(0, $_) } @pids));
	return 0;
}

# Wait until at least $n activities completed; returns the count then.
sub wait_progress
{
	my ($n) = @_;
	ok(poll($node, $db, "SELECT ($completed_sql) >= $n", 't', 60), "at least $n activities completed");
	return $node->safe_psql($db, $completed_sql);
}

# ---------------------------------------------------------------- crash 1
my @workers = start_workers(1);
my $at = wait_progress(120);
$node->stop('immediate');
note("immediate shutdown after $at of " . 3 * $N . ' activity completions');
cmp_ok($at, '<', 3 * $N, 'the first crash happened mid-run');
reap_workers(@workers);
$node->start;

my $running = $node->safe_psql($db, "SELECT count(*) FROM workflow.tasks WHERE status = 'running'");
note("$running tasks were claimed when the server went down");
my $lost_at_crash = $node->safe_psql($db,
	"SELECT coalesce(string_agg(task_id::text || ':' || attempt, ' '), '') FROM workflow.tasks WHERE status = 'running'");

# ---------------------------------------------------------------- crash 2
@workers = start_workers(2);
$at = wait_progress($at + 200);
my ($sched) = scheduler_pids($node, $db);
ok(defined $sched, 'the scheduler is back after the restart');
note("SIGKILL to the scheduler (pid $sched) after $at activity completions");
cmp_ok($at, '<', 3 * $N, 'the second crash happened mid-run');
kill 'KILL', $sched;
reap_workers(@workers);
ok(wait_for_server($node, 60), 'the server is back after the crash restart');
ok(poll($node, $db, "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler'"),
	'a scheduler runs again');
ok( $node->log_contains(qr/terminating any other active server processes|all server processes terminated; reinitializing/),
	'the postmaster went through a crash restart');

# ---------------------------------------------------------------- crash 3
@workers = start_workers(3);
$at = wait_progress($at + 150);
cmp_ok($at, '<', 3 * $N, 'the third crash happened mid-run');
# Freeze the postmaster first, so that it forks nothing while we list its
# children (once it is dead they would belong to init).
kill 'STOP', $node->{_pid};
my @victims = ($node->{_pid}, children_of($node->{_pid}));
note("SIGKILL to the postmaster and its " . (@victims - 1) . " processes after $at activity completions");
kill 'KILL', @victims;
$node->{_pid} = undef;     # what Cluster::kill9 does
reap_workers(@workers);
ok(wait_gone(@victims), 'every server process is gone');
$node->start;
ok(poll($node, $db, "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler'"),
	'a scheduler runs after the restart');

# ---------------------------------------------------------------- the end
@workers = start_workers(4);
ok( poll($node, $db,
		"SELECT count(*) FILTER (WHERE status = 'completed') = $N AND count(*) = $N FROM workflow.workflows",
		't', 60),
	"all $N workflows completed");
is(stop_workers($node, $db, @workers), 3, 'the last workers ran without error');

is( $node->safe_psql($db,
		"SELECT count(*) FROM workflow.workflows WHERE result->>'n' IS DISTINCT FROM (8 * (input->>'n')::int)::text"
		  . " OR result->>'last' IS DISTINCT FROM 'StepC'"),
	'0',
	'every result is right');
is($node->safe_psql($db, 'SELECT count(*) FROM workflow.tasks'), '0', 'no task is left');
is($node->safe_psql($db, 'SELECT count(*) FROM workflow.timers'), '0', 'no timer is left');

my @problems = history_problems($node, $db, check_reports => 1);
is(scalar(@problems), 0, 'no event is duplicated, ids are gapless, each completion was reported once')
  or diag(join("\n", @problems));

is( $node->safe_psql(
		$db, q{
SELECT count(*) FROM (
	SELECT workflow_id, run_id FROM workflow.history GROUP BY 1, 2
	HAVING count(*) FILTER (WHERE event_type = 'WorkflowStarted') <> 1
		OR count(*) FILTER (WHERE event_type = 'ActivityScheduled') <> 3
		OR count(*) FILTER (WHERE event_type = 'ActivityCompleted') <> 3
		OR count(*) FILTER (WHERE event_type = 'TimerStarted') <> 1
		OR count(*) FILTER (WHERE event_type = 'TimerFired') <> 1
		OR count(*) FILTER (WHERE event_type = 'WorkflowCompleted') <> 1
		OR count(*) FILTER (WHERE event_type = 'ActivityStarted')
		   <> 3 + count(*) FILTER (WHERE event_type IN ('ActivityFailed', 'ActivityTimedOut'))
		OR max(event_id) FILTER (WHERE event_type = 'WorkflowCompleted') <> max(event_id)) s}),
	'0',
	'each run has exactly its events: 3 activities, 1 timer, one start, one end, one start per attempt');

is($node->safe_psql($db, 'SELECT count(*) FROM wf_test.done'),
	3 * $N, 'workers made exactly one successful report per activity');

# The tasks that were claimed when the server went down came back after
# their lease, as a start_to_close timeout of that attempt.
my @lost = grep { length } split / /, $lost_at_crash;
my $missing = 0;
for my $l (@lost)
{
	my ($task, $attempt) = split /:/, $l;
	my $ev = $node->safe_psql($db,
		"SELECT count(*) FROM workflow.history WHERE event_type = 'ActivityTimedOut'"
		  . " AND (data->>'task_id')::bigint = $task AND (data->>'attempt')::int = $attempt"
		  . " AND data->>'timeout_type' = 'start_to_close'");
	$missing++ unless $ev eq '1';
}
is($missing, 0, scalar(@lost) . ' tasks claimed at the crash timed out (start_to_close) and were retried');

ok(!$node->log_contains(qr/PANIC|deadlock detected/), 'no PANIC and no deadlock in the server log');

$node->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
