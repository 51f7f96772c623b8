# A worker that is late rather than dead: it claimed attempt 1, stalled
# past its lease (start_to_close_timeout), the task was retried and another
# worker now holds attempt 2.  The late worker's heartbeat and report must
# be refused with WF010 (DESIGN.md: "A worker's late or duplicate report
# (lease expired and the task was retried, ...) gets a clear error or a
# documented no-op, never a second history event"); its result must not
# become the activity's result, and the report of the worker that holds
# the task must be accepted.
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
my $node = new_node('late');
my $db = 'postgres';

$node->safe_psql($db, 'CREATE EXTENSION workflow');
$node->safe_psql(
	$db, q{
CREATE FUNCTION one_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Slow', input, input->>'queue',
		'{"retry": {"initial_interval": "100 milliseconds"}, "start_to_close_timeout": "2 seconds"}');
END $$;
SELECT workflow.register_workflow('one_step', 'one_step(jsonb)');
});

$node->safe_psql($db, q{SELECT workflow.start_workflow('one_step', '{"n": 7, "queue": "late"}', 'wf-late')});
my $zombie = claim_one($node, $db, 'late', 'zombie', 10);
ok(defined $zombie && $zombie->{attempt} == 1, 'the slow worker claimed attempt 1');
my $zid = $zombie->{task_id};
ok( poll($node, $db,
		"SELECT string_agg(status || ' ' || attempt, ',') FROM workflow.tasks WHERE workflow_id = 'wf-late'",
		'ready 2', 15),
	'its lease expired: attempt 2 is ready');
my $second = claim_one($node, $db, 'late', 'second', 10);
ok(defined $second && $second->{attempt} == 2, 'another worker claimed attempt 2');

my ($rc, $out, $err) = $node->psql($db, "SELECT workflow.heartbeat_activity($zid)",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
ok($rc != 0 && $err =~ /WF010/,
	'a heartbeat of the late worker is refused with WF010 (its lease was lost)')
  or diag("heartbeat_activity returned rc $rc, output '$out', error '$err'");

($rc, $out, $err) = $node->psql($db,
	"SELECT workflow.complete_activity($zid, '{\"by\": \"zombie\"}')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
isnt($rc, 0, 'the late report of attempt 1 (lease lost, task retried) is refused');
like($err, qr/WF010/, 'with SQLSTATE WF010');

($rc, $out, $err) = $node->psql($db,
	"SELECT workflow.complete_activity($second->{task_id}, '{\"by\": \"second\"}')");
is($rc, 0, 'the worker that holds attempt 2 reports normally') or diag($err);
ok( poll($node, $db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'wf-late'",
		'completed', 10),
	'the workflow completed');
is( $node->safe_psql($db, "SELECT result FROM workflow.workflows WHERE workflow_id = 'wf-late'"),
	'{"by": "second"}',
	'its result is the report of the worker that held the task, not the late one')
  or diag("history of wf-late:\n"
	  . $node->safe_psql($db,
		"SELECT event_id, event_type, data FROM workflow.history WHERE workflow_id = 'wf-late' ORDER BY event_id"));
is( $node->safe_psql($db,
		"SELECT count(*) FROM workflow.history WHERE workflow_id = 'wf-late' AND event_type = 'ActivityCompleted'"),
	'1',
	'one ActivityCompleted');

my @problems = history_problems($node, $db);
is(scalar(@problems), 0, 'the history is sound') or diag(join("\n", @problems));

$node->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
