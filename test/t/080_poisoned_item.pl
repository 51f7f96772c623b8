# One run's failing due item never stops the background scheduler: it logs
# a WARNING naming the run, records the failure on that run, postpones the
# item, and goes on with the others; it does not crash-loop (issue 10,
# item 4).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WorkflowTest;

my $node = new_node('poisoned');
my $db = 'postgres';
$node->safe_psql(
	$db, q{
CREATE EXTENSION workflow;
CREATE FUNCTION nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep((input->>'d')::interval);
	RETURN '{"woke": true}';
END $$;
SELECT workflow.register_workflow('nap', 'nap(jsonb)');
SELECT workflow.start_workflow('nap', '{"d": "1 day"}', 'victim');
INSERT INTO workflow.tasks (workflow_id, run_id, seq, activity_id, queue, activity, input,
	initial_interval, backoff_coefficient, maximum_interval, maximum_attempts,
	non_retryable_errors, start_to_close_timeout, scheduled_at, ready_at, due_at,
	status, claimed_at, producer)
SELECT workflow_id, run_id, 99, 'poison', 'pq', 'Poison', '{}', '1 second', 2, '100 seconds', 0,
	'{}', '300000 years', now(), now(), now(), 'running', now(), owner
  FROM workflow.workflows WHERE workflow_id = 'victim';
SELECT workflow.start_workflow('nap', '{"d": "2 seconds"}', 'bystander');
});

ok( poll($node, $db,
		"SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'bystander'",
		't', 30),
	"the scheduler fires another run's timer despite the poisoned item");
ok( poll($node, $db,
		"SELECT count(*) > 0 FROM workflow.history WHERE workflow_id = 'victim'"
		  . " AND event_type = 'WorkflowTaskFailed' AND data->>'item' LIKE 'activity task %'"),
	'the failure is recorded on the poisoned run');
ok($node->log_contains(qr/WARNING:.*activity task \d+ of workflow "victim".*failed: timestamp out of range/),
	'a WARNING names the run and the error');
ok(!$node->log_contains(qr/workflow scheduler.*exited with exit code 1/),
	'the scheduler never exited on the error');
is($node->safe_psql($db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'victim'"),
	'running', 'the poisoned run stays running');

$node->stop;
done_testing();
