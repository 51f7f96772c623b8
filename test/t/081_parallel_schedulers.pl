# One run's slow workflow code, advanced by the background scheduler, does
# not delay another run's timer: a pool of workflow.max_workers schedulers
# per database takes due items in parallel, each in its own transaction
# (issue 10, item 8).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use WorkflowTest;

my $node = new_node('parallel', extra_conf => "workflow.max_workers = 2\n");
my $db = 'postgres';
$node->safe_psql(
	$db, q{
CREATE EXTENSION workflow;
CREATE FUNCTION slow(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 second');
	PERFORM pg_sleep(8);
	RETURN '{"slow": true}';
END $$;
SELECT workflow.register_workflow('slow', 'slow(jsonb)');
CREATE FUNCTION quick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 second');
	RETURN '{"quick": true}';
END $$;
SELECT workflow.register_workflow('quick', 'quick(jsonb)');
});
ok( poll($node, $db,
		"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type LIKE 'workflow scheduler%'"
		  . " AND datname = '$db'"),
	'two schedulers serve the database');

$node->safe_psql($db, "SELECT workflow.start_workflow('slow', '{}', 'slow-1')");
ok( poll($node, $db,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type LIKE 'workflow scheduler%'"
		  . " AND wait_event = 'PgSleep'", 't', 15),
	'a scheduler runs the slow code');
my $t0 = time();
$node->safe_psql($db, "SELECT workflow.start_workflow('quick', '{}', 'quick-1')");
ok( poll($node, $db,
		"SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'quick-1'", 't', 30),
	'the quick run completes');
my $took = time() - $t0;
cmp_ok($took, '<', 5, "its 1 s timer fired while the slow code ran (after ${took}s, the slow code takes 8 s)");
is($node->safe_psql($db, "SELECT status FROM workflow.workflows WHERE workflow_id = 'slow-1'"),
	'running', 'the slow run was still in its code then');
ok( poll($node, $db,
		"SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'slow-1'", 't', 30),
	'the slow run completes too');

$node->stop;
done_testing();
