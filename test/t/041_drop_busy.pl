# DROP EXTENSION workflow while a scheduler of the database's pool (the
# main one or a helper, whichever took the timer) is busy: here it
# is running workflow code (the code after a durable timer, which the
# scheduler replays when the timer fires, sleeps 1 s before it schedules
# an activity).  DROP EXTENSION must succeed (waiting for the scheduler's
# transaction is fine), and neither it nor the scheduler may fail with a
# deadlock.
#
# The scheduler's transaction holds locks on the tables it has used so far
# (timers, workflows, history ...) and takes the lock on workflow.tasks
# only when the code schedules the activity; DROP EXTENSION takes
# AccessExclusiveLock on the extension's tables one after another.  When
# DROP gets tasks first and then waits for a table the scheduler holds,
# the two deadlock.  Several rounds, since which one comes first varies.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use WorkflowTest;

my $t_start = time();
my $node = new_node('dropbusy', extra_conf => "deadlock_timeout = 200ms\n");
my $db = 'postgres';

$node->safe_psql(
	$db, q{
CREATE FUNCTION slowcode(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('10 milliseconds');
	PERFORM pg_sleep(1);
	RETURN workflow.activity('A', input, 'q');
END $$;
});

my $rounds = 6;
my $failed = 0;
for my $round (1 .. $rounds)
{
	$node->safe_psql(
		$db, qq{
CREATE EXTENSION workflow;
SELECT workflow.register_workflow('slowcode', 'slowcode(jsonb)');
SELECT workflow.start_workflow('slowcode', '{}', 'wf-$round');
});
	ok( poll($node, $db,
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type LIKE 'workflow scheduler%'"
			  . " AND wait_event = 'PgSleep'", 't', 15),
		"round $round: the scheduler fired the timer and runs the workflow code");
	my $t0 = time();
	my ($rc, $out, $err) = $node->psql($db, 'DROP EXTENSION workflow');
	my $secs = time() - $t0;
	ok($rc == 0 && $secs < 5,
		sprintf('round %d: DROP EXTENSION succeeds while the scheduler is busy (%.2f s)', $round, $secs))
	  or do { diag($err); $failed++ };
	if ($rc != 0)
	{
		# Clean up for the next round.
		ok(poll($node, $db, 'DROP EXTENSION workflow; SELECT true', 't', 15), "round $round: dropped on retry");
	}
	ok(poll($node, $db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type LIKE 'workflow scheduler%'"),
		"round $round: the scheduler is gone");
}
is($failed, 0, "DROP EXTENSION never failed ($failed of $rounds rounds did)");
ok(!$node->log_contains('deadlock detected'), 'no deadlock in the server log');
ok(!$node->log_contains(qr/workflow scheduler.*exited with exit code 1/),
	'the scheduler never exited on an error');

$node->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
