# The background worker alone (no workflow.tick() anywhere) drives a
# workflow: it fires a durable timer and makes a failed activity ready
# again after its backoff.  Also: the launcher and the scheduler of the
# database are visible in pg_stat_activity, workflow.max_naptime is a
# setting, and the scheduler is woken by commits (a 2 s timer and a 200 ms
# backoff still happen on time when max_naptime is 60 s).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use WorkflowTest;

my $node = new_node('bgworker');
my $db = 'postgres';

$node->safe_psql($db, 'CREATE EXTENSION workflow');

is($node->safe_psql($db, 'SHOW workflow.max_naptime'), '1s', 'SHOW workflow.max_naptime works');
ok( poll($node, $db,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow launcher'"),
	'the launcher runs');
ok( poll($node, $db,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler' AND datname = '$db'"
	),
	'one scheduler serves the database');

$node->safe_psql(
	$db, q{
CREATE FUNCTION nap_then_flaky(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
	PERFORM workflow.sleep('2 seconds');
	r := workflow.activity('Flaky', input, 'flaky',
		'{"retry": {"initial_interval": "200 milliseconds", "maximum_attempts": 3},
		  "start_to_close_timeout": "20 seconds"}');
	RETURN jsonb_build_object('flaky', r);
END $$;
SELECT workflow.register_workflow('nap_then_flaky', 'nap_then_flaky(jsonb)');
});

# Run one workflow to its end, acting as its worker: fail attempt 1,
# complete attempt 2.  Nobody calls tick().
sub run_one
{
	my ($wfid, $label) = @_;
	my $t0 = time();
	is($node->safe_psql($db, "SELECT workflow.start_workflow('nap_then_flaky', '{\"n\": 21}', '$wfid')"),
		$wfid, "$label: started");
	is( $node->safe_psql(
			$db,
			"SELECT string_agg(event_type, ',' ORDER BY event_id) FROM workflow.history WHERE workflow_id = '$wfid'"
		),
		'WorkflowStarted,TimerStarted',
		"$label: the run waits on its timer");

	my $t1 = claim_one($node, $db, 'flaky', 'w-010', 15);
	my $waited = time() - $t0;
	ok(defined $t1, "$label: the activity became claimable after the timer fired");
	return unless defined $t1;
	cmp_ok($waited, '>=', 1.9, "$label: not before the 2 s timer was due (after ${waited}s)");
	cmp_ok($waited, '<', 5, "$label: soon after the 2 s timer was due (after ${waited}s)");
	is($t1->{attempt}, 1, "$label: first attempt");
	$node->safe_psql($db, "SELECT workflow.fail_activity($t1->{task_id}, 'boom', true)");

	my $tf = time();
	my $t2 = claim_one($node, $db, 'flaky', 'w-010', 15);
	my $backoff = time() - $tf;
	ok(defined $t2, "$label: the failed activity became claimable again");
	return unless defined $t2;
	is($t2->{attempt}, 2, "$label: second attempt");
	cmp_ok($backoff, '>=', 0.15, "$label: not before its 200 ms backoff (after ${backoff}s)");
	cmp_ok($backoff, '<', 3, "$label: soon after its 200 ms backoff (after ${backoff}s)");
	$node->safe_psql($db,
		"SELECT workflow.complete_activity($t2->{task_id}, '{\"ok\": true, \"attempt\": 2}')");

	ok( poll($node, $db,
			"SELECT status FROM workflow.workflows WHERE workflow_id = '$wfid'", 'completed', 15),
		"$label: the workflow completed");
	is( $node->safe_psql($db, "SELECT result FROM workflow.workflows WHERE workflow_id = '$wfid'"),
		'{"flaky": {"ok": true, "attempt": 2}}',
		"$label: its result holds the activity's result");

	my %h = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql(
		$db, qq{
SELECT 'types', string_agg(event_type, ',' ORDER BY event_id) FROM workflow.history WHERE workflow_id = '$wfid'
UNION ALL
SELECT 'failed', string_agg((data->>'attempt') || ':' || (data->>'error') || ':' || (data->>'retryable'), ',')
  FROM workflow.history WHERE workflow_id = '$wfid' AND event_type = 'ActivityFailed'
UNION ALL
SELECT 'timer', (extract(epoch FROM (s.data->>'fire_at')::timestamptz - s.created_at) * 1000)::int
				  || ':' || (extract(epoch FROM f.created_at - (s.data->>'fire_at')::timestamptz) * 1000)::int
  FROM workflow.history s, workflow.history f
 WHERE s.workflow_id = '$wfid' AND s.event_type = 'TimerStarted'
   AND f.workflow_id = '$wfid' AND f.event_type = 'TimerFired'
UNION ALL
SELECT 'ids', string_agg(event_id::text, ',' ORDER BY event_id) FROM workflow.history WHERE workflow_id = '$wfid'
});
	like($h{types}, qr/^WorkflowStarted,TimerStarted,TimerFired,/, "$label: TimerStarted then TimerFired");
	is($h{failed}, '1:boom:true', "$label: one ActivityFailed, attempt 1, retryable");
	like($h{types}, qr/ActivityFailed,ActivityStarted,ActivityCompleted,WorkflowCompleted$/,
		"$label: attempt 2 completed, then WorkflowCompleted");
	is( $h{types},
		'WorkflowStarted,TimerStarted,TimerFired,ActivityScheduled,ActivityStarted,ActivityFailed,'
		  . 'ActivityStarted,ActivityCompleted,WorkflowCompleted',
		"$label: the whole history is as expected");
	is($h{ids}, '1,2,3,4,5,6,7,8,9', "$label: event ids are gapless");
	my ($set_ms, $late_ms) = split /:/, ($h{timer} // '');
	ok($set_ms >= 1900 && $set_ms <= 2100, "$label: the timer was set for 2 s later ($set_ms ms)");
	ok($late_ms >= 0 && $late_ms < 1500,
		"$label: TimerFired was written at fire_at or soon after ($late_ms ms late)");
	return;
}

run_one('wf-bg-1', 'max_naptime 1s');

# The scheduler must not depend on polling: with a 60 s naptime, the
# commit that starts a timer or a backoff wakes it.
$node->safe_psql($db, "ALTER SYSTEM SET workflow.max_naptime = '60s'");
$node->reload;
ok(poll($node, $db, 'SHOW workflow.max_naptime', '1min'), 'max_naptime is now 60 s');
# Let the scheduler pick up the new setting and go to a long sleep.
ok( poll($node, $db,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler' AND datname = '$db'"
		  . " AND state = 'idle' AND wait_event_type = 'Extension'"),
	'the scheduler sleeps on its latch');
sleep(1.5);
run_one('wf-bg-2', 'max_naptime 60s');

is($node->safe_psql($db, 'SELECT count(*) FROM workflow.tasks'), '0', 'no task row is left');
is($node->safe_psql($db, 'SELECT count(*) FROM workflow.timers'), '0', 'no timer row is left');
is(scalar(history_problems($node, $db)), 0, 'the history is sound')
  or diag(join("\n", history_problems($node, $db)));
ok(!$node->log_contains('workflow scheduler.*(PANIC|terminated by signal)'), 'no scheduler crash in the log');

$node->stop;
done_testing();
