# Session-bound leases through pg_terminate_backend and plain sessions.
#
# A session claims a task whose start_to_close_timeout is an hour; it is
# terminated: within 2 seconds the attempt is an ActivityFailed "worker
# session ended" (retryable) and attempt 2 is claimable.  Nothing else is
# failed: a session that claims and reports before it ends, a claim rolled
# back, a claim not bound to its session (workflow.session_leases off, as
# through a transaction pooler), and a live session holding its task while
# others end.  The retry policy applies: with maximum_attempts 1 the first
# session end fails the activity for good.
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
my $node = new_node('leases');
my $db = 'postgres';

$node->safe_psql($db, 'CREATE EXTENSION workflow');
$node->safe_psql(
	$db, q{
CREATE FUNCTION one_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Job', input, input->>'queue',
		jsonb_build_object('start_to_close_timeout', '1 hour',
			'retry', jsonb_build_object('initial_interval', '100 milliseconds',
										'maximum_attempts', coalesce((input->>'attempts')::int, 0))));
END $$;
SELECT workflow.register_workflow('one_step', 'one_step(jsonb)');
});

sub start
{
	my ($id, $queue, $attempts) = @_;
	my $input = $attempts ? qq({"queue": "$queue", "attempts": $attempts}) : qq({"queue": "$queue"});
	$node->safe_psql($db, "SELECT workflow.start_workflow('one_step', '$input', '$id')");
}

# A session that claims one task of $queue and stays; returns (session, backend pid, task id).
sub claiming_session
{
	my ($queue, $setup) = @_;
	my $s = $node->background_psql($db);
	$s->query_safe($setup) if $setup;
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	my $task = $s->query_safe("SELECT task_id FROM workflow.claim_activities('$queue', 'w-$queue', 1)");
	return ($s, $pid, $task);
}

sub events
{
	my ($id) = @_;
	return $node->safe_psql($db,
		"SELECT string_agg(event_type, ',' ORDER BY event_id) FROM workflow.history WHERE workflow_id = '$id'");
}

# ---------------------------------------- a live session keeps its task
start('alive', 'q_alive');
my ($alive, $alive_pid, $alive_task) = claiming_session('q_alive');
like($alive_task, qr/^\d+$/, 'a live session claimed a task');

# ------------------------------------------ pg_terminate_backend
start('term', 'q_term');
my ($doomed, $doomed_pid, $doomed_task) = claiming_session('q_term');
like($doomed_task, qr/^\d+$/, 'the doomed session claimed a task');
is( $node->safe_psql($db,
		"SELECT claimed_pid = $doomed_pid AND claimed_session_start = (SELECT backend_start"
		  . " FROM pg_stat_activity WHERE pid = $doomed_pid) FROM workflow.tasks WHERE task_id = $doomed_task"),
	't', 'the claim records the session: its pid and its start time');
my $t0 = time();
$node->safe_psql($db, "SELECT pg_terminate_backend($doomed_pid)");
eval { $doomed->quit };
my $attempt2;
while (time() - $t0 < 10)
{
	$attempt2 = $node->safe_psql($db,
		"SET workflow.session_leases = off; SELECT task_id || ' ' || attempt"
		  . " FROM workflow.claim_activities('q_term', 'second', 1)");
	last if $attempt2 ne '';
	usleep(20_000);
}
my $took = time() - $t0;
like($attempt2, qr/^\d+ 2$/, 'attempt 2 was claimed after the session was terminated');
ok($took < 2, sprintf('within 2 seconds (%.3f s), not after the hour of start_to_close_timeout', $took));
is( $node->safe_psql($db,
		"SELECT data->>'error' || ' ' || (data->>'retryable') || ' ' || (data->>'final') || ' ' || (data->>'task_id')"
		  . " FROM workflow.history WHERE workflow_id = 'term' AND event_type = 'ActivityFailed'"),
	"worker session ended true false $doomed_task",
	'attempt 1 is an ActivityFailed "worker session ended", retryable, not final');
my ($task2) = split / /, $attempt2;
$node->safe_psql($db, "SELECT workflow.complete_activity($task2, '{\"ok\": 2}')");
ok(poll($node, $db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'term'", 'completed'),
	'the workflow completed with attempt 2');

# ---------------------------------- claim, report, end: nothing to fail
start('reported', 'q_rep');
my ($rep, $rep_pid, $rep_task) = claiming_session('q_rep');
$rep->query_safe("SELECT workflow.complete_activity($rep_task, '{\"ok\": 1}')");
$rep->quit;
ok(poll($node, $db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'reported'", 'completed'),
	'a session that reported before it ended: its workflow completed');

# ------------------------------------------- a claim rolled back
start('rolledback', 'q_rb');
my $rb = $node->background_psql($db);
$rb->query_safe('BEGIN');
is($rb->query_safe("SELECT count(*) FROM workflow.claim_activities('q_rb', 'rb', 1)"), '1',
	'a session claims in a transaction ...');
$rb->query_safe('ROLLBACK');
$rb->quit;

# ---------------------------------- a claim not bound to its session
start('unbound', 'q_unbound');
my ($unbound, $unbound_pid, $unbound_task) =
  claiming_session('q_unbound', 'SET workflow.session_leases = off');
is( $node->safe_psql($db, "SELECT claimed_pid IS NULL FROM workflow.tasks WHERE task_id = $unbound_task"),
	't', 'with workflow.session_leases off the claim records no session');
$unbound->quit;

# ------------------- a reused pid: the start time must match as well
# The task of a live session is made to carry the pid of another session
# (as if that pid had been reused); that other session claims (nothing)
# and ends: its end names its pid with its own start time, which is not
# the task's.
start('reused', 'q_reused');
my ($keeper, $keeper_pid, $keeper_task) = claiming_session('q_reused');
my $other = $node->background_psql($db);
my $other_pid = $other->query_safe('SELECT pg_backend_pid()');
is($other->query_safe("SELECT count(*) FROM workflow.claim_activities('q_empty', 'other', 1)"), '0',
	'another session claims from an empty queue');
$node->safe_psql($db, "UPDATE workflow.tasks SET claimed_pid = $other_pid WHERE task_id = $keeper_task");
$other->quit;

# ------------------------------ the retry policy: one attempt allowed
start('once', 'q_once', 1);
my ($once, $once_pid, $once_task) = claiming_session('q_once');
$once->quit;
ok( poll($node, $db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'once'", 'failed', 10),
	'with maximum_attempts 1, the session end fails the activity for good and the workflow fails');
is( $node->safe_psql($db,
		"SELECT data->>'error' || ' ' || (data->>'final') FROM workflow.history"
		  . " WHERE workflow_id = 'once' AND event_type = 'ActivityFailed'"),
	'worker session ended true', 'its ActivityFailed is final');

# Give the scheduler time to act on every session that ended above.
sleep(2);
is( $node->safe_psql($db, "SELECT status || ' ' || attempt FROM workflow.tasks WHERE workflow_id = 'rolledback'"),
	'ready 1', '... rolls it back and ends: the task is ready, attempt 1, nothing failed');
is(events('rolledback'), 'WorkflowStarted,ActivityScheduled', 'no event for the rolled-back claim');
is( $node->safe_psql($db, "SELECT status || ' ' || attempt FROM workflow.tasks WHERE workflow_id = 'unbound'"),
	'running 1', 'a claim not bound to its session is kept after the session ended (its timeouts apply)');
is( $node->safe_psql($db, "SELECT status || ' ' || attempt FROM workflow.tasks WHERE workflow_id = 'reused'"),
	'running 1', 'a task whose pid matches an ended session but whose start time does not is kept');
$keeper->quit;
is(events('reported'), 'WorkflowStarted,ActivityScheduled,ActivityStarted,ActivityCompleted,WorkflowCompleted',
	'the reported task: one attempt, no failure');
is( $node->safe_psql($db, "SELECT status || ' ' || attempt FROM workflow.tasks WHERE workflow_id = 'alive'"),
	'running 1', 'the live session still holds its task while the other sessions ended');
$alive->query_safe("SELECT workflow.complete_activity($alive_task, '{\"ok\": 1}')");
ok(poll($node, $db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'alive'", 'completed'),
	'and reports it');
is(events('alive'), 'WorkflowStarted,ActivityScheduled,ActivityStarted,ActivityCompleted,WorkflowCompleted',
	'exactly one attempt');
$alive->quit;

my @problems = history_problems($node, $db);
is(scalar(@problems), 0, 'the history is sound') or diag(join("\n", @problems));

$node->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
