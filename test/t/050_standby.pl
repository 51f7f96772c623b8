# The background worker runs on the primary only.  A streaming standby
# runs no launcher and no scheduler while in recovery (its workflow
# tables are read-only copies); once promoted, it starts a scheduler that
# fires the timer that fell due meanwhile, and the run goes on there.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use WorkflowTest;

my $t_start = time();
my $db = 'postgres';
my $primary = new_node('primary', allows_streaming => 1);

$primary->safe_psql(
	$db, q{
CREATE EXTENSION workflow;
CREATE FUNCTION nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep((input->>'nap')::interval);
	RETURN '{"woke": true}';
END $$;
SELECT workflow.register_workflow('nap', 'nap(jsonb)');
});
ok( poll($primary, $db,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler' AND datname = '$db'"),
	'the primary runs a scheduler');

$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

# A run whose timer falls due while the primary is down.
my $t_wf = time();
$primary->safe_psql($db, q{SELECT workflow.start_workflow('nap', '{"nap": "4 seconds"}', 'wf-nap')});
$primary->wait_for_catchup($standby);
my $fire_at = $standby->safe_psql($db,
	"SELECT data->>'fire_at' FROM workflow.history WHERE workflow_id = 'wf-nap' AND event_type = 'TimerStarted'");
ok($fire_at ne '', "the standby has the run and its TimerStarted (fire_at $fire_at)");
$primary->stop('fast');
my $stopped_after = time() - $t_wf;
cmp_ok($stopped_after, '<', 3.5, sprintf('the primary stopped %.2f s after the start, before the timer was due', $stopped_after));
is( $standby->safe_psql($db,
		"SELECT count(*) FROM workflow.history WHERE workflow_id = 'wf-nap' AND event_type = 'TimerFired'"),
	'0',
	'the timer had not fired on the primary');

is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is( $standby->safe_psql($db,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('workflow launcher', 'workflow scheduler')"),
	'0',
	'no launcher and no scheduler run on the standby');
is($standby->safe_psql($db, 'SHOW workflow.max_naptime'), '1s', 'the library is loaded on the standby');

# Let the timer fall due while still in recovery: nothing may happen.
my $left = 4.5 - (time() - $t_wf);
sleep($left) if $left > 0;
is( $standby->safe_psql($db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'wf-nap'"),
	'running', 'in recovery, the due timer is not fired');
is( $standby->safe_psql($db,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('workflow launcher', 'workflow scheduler')"),
	'0',
	'still no launcher and no scheduler on the standby');

$standby->promote;
is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 'f', 'the standby is promoted');
ok( poll($standby, $db,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler' AND datname = '$db'",
		't', 15),
	'a scheduler starts on the promoted standby');
ok( poll($standby, $db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'wf-nap'",
		'completed', 15),
	'it fires the timer that fell due and the run completes');
is( $standby->safe_psql($db,
		"SELECT string_agg(event_type, ',' ORDER BY event_id) FROM workflow.history WHERE workflow_id = 'wf-nap'"),
	'WorkflowStarted,TimerStarted,TimerFired,WorkflowCompleted',
	'the history goes on from where the primary left it');
is($standby->safe_psql($db, "SELECT result FROM workflow.workflows WHERE workflow_id = 'wf-nap'"),
	'{"woke": true}', 'with the result');

# And new work on the new primary is served as well.
$standby->safe_psql($db, q{SELECT workflow.start_workflow('nap', '{"nap": "500 milliseconds"}', 'wf-after')});
ok( poll($standby, $db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'wf-after'",
		'completed', 15),
	'a run started after the promotion completes');
is(scalar(history_problems($standby, $db)), 0, 'the history is sound');

$standby->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
