# A worker killed with SIGKILL in the middle of an activity (it claimed the
# task and never reports) loses nothing: after the task's start_to_close
# timeout (its lease) the scheduler records ActivityTimedOut, the task comes
# back, another worker completes attempt 2, and the workflow completes.
# (A worker that is late rather than dead: 031_late_report.pl.)
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use WorkflowTest;

my $t_start = time();
my $node = new_node('wcrash');
my $db = 'postgres';

$node->safe_psql($db, 'CREATE EXTENSION workflow');
setup_worker_schema($node, $db);
$node->safe_psql(
	$db, q{
CREATE FUNCTION one_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Slow', input, input->>'queue',
		'{"retry": {"initial_interval": "100 milliseconds"}, "start_to_close_timeout": "2 seconds"}');
END $$;
SELECT workflow.register_workflow('one_step', 'one_step(jsonb)');
});

# ------------------------------------------------ a worker killed with -9
$node->safe_psql($db, q{SELECT workflow.start_workflow('one_step', '{"n": 5, "queue": "work"}', 'wf-killed')});

# Its claim is not bound to its session (as through a transaction pooler,
# workflow.session_leases off): the lease's timeout is what brings the task
# back.  125_session_leases.pl covers a claim bound to its session.
my $doomed = $node->background_psql($db);
$doomed->query_safe('SET workflow.session_leases = off');
my $doomed_backend = $doomed->query_safe('SELECT pg_backend_pid()');
my $claim = $doomed->query_safe(
	q{SELECT task_id || ' ' || attempt FROM workflow.claim_activities('work', 'doomed', 1)});
my ($task, $attempt) = split / /, $claim;
ok(defined $task && $task =~ /^\d+$/, 'the doomed worker claimed the task');
is($attempt, 1, 'it holds attempt 1');

my $psql_pid = $doomed->{run}->{KIDS}->[0]->{PID};
ok(kill('KILL', $psql_pid), "the doomed worker (psql pid $psql_pid) is killed with SIGKILL");
eval { $doomed->{run}->finish };
ok( poll($node, $db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $doomed_backend"),
	'its session is gone');
is( $node->safe_psql($db, "SELECT status || ' ' || claimed_by FROM workflow.tasks WHERE task_id = $task"),
	'running doomed',
	'the task is still held by the dead worker');

# A healthy worker takes over once the lease has expired.
my $w = start_worker($node, $db, name => 'healthy', queues => ['work'], batch => 1);
ok( poll($node, $db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'wf-killed'",
		'completed', 30),
	'the workflow completed');
is(stop_workers($node, $db, $w), 1, 'the healthy worker ran without error');

is( $node->safe_psql(
		$db,
		"SELECT string_agg(event_type, ',' ORDER BY event_id) FROM workflow.history WHERE workflow_id = 'wf-killed'"
	),
	'WorkflowStarted,ActivityScheduled,ActivityStarted,ActivityTimedOut,ActivityStarted,ActivityCompleted,WorkflowCompleted',
	'history: attempt 1 started and timed out, attempt 2 started and completed');
is( $node->safe_psql(
		$db, qq{
SELECT string_agg(event_type || ':' || coalesce(data->>'attempt', '-') || ':' || coalesce(data->>'worker_id', '-')
				  || ':' || coalesce(data->>'timeout_type', '-') || ':' || (data->>'seq'), ',' ORDER BY event_id)
  FROM workflow.history
 WHERE workflow_id = 'wf-killed' AND event_type IN ('ActivityStarted', 'ActivityTimedOut')}),
	'ActivityStarted:1:doomed:-:1,ActivityTimedOut:1:-:start_to_close:1,ActivityStarted:2:healthy:-:1',
	'the timeout is start_to_close of the dead worker\'s attempt 1; the healthy worker ran attempt 2');
is( $node->safe_psql(
		$db, qq{
SELECT (data->>'task_id') FROM workflow.history
 WHERE workflow_id = 'wf-killed' AND event_type = 'ActivityTimedOut'}),
	$task,
	'the timed-out attempt is the task the dead worker claimed');
my $lease_ms = $node->safe_psql(
	$db, q{
SELECT (extract(epoch FROM t.created_at - (s.data->>'started_at')::timestamptz) * 1000)::int
  FROM workflow.history s, workflow.history t
 WHERE s.workflow_id = 'wf-killed' AND s.event_type = 'ActivityStarted' AND s.data->>'attempt' = '1'
   AND t.workflow_id = 'wf-killed' AND t.event_type = 'ActivityTimedOut'});
ok($lease_ms >= 1950 && $lease_ms < 4000,
	"the task timed out when its 2 s lease expired ($lease_ms ms after the claim)");
is( $node->safe_psql($db, "SELECT result FROM workflow.workflows WHERE workflow_id = 'wf-killed'"),
	'{"n": 10, "worker": "healthy", "attempt": 2, "activity": "Slow"}',
	'the result is attempt 2\'s');
is($node->safe_psql($db, 'SELECT count(*) FROM workflow.tasks'), '0', 'no task is left');

my @problems = history_problems($node, $db);
is(scalar(@problems), 0, 'the history is sound') or diag(join("\n", @problems));

$node->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
