# Schedules fire exactly once per fire time across crashes.
#
# 20 schedules "every 1 second" (allow_all: a late fire caught up after a
# restart never overlaps the one before it) start a workflow that ends at once, fired
# by the real scheduler (no tick).  Twice, while they fire, the server goes
# down in an immediate shutdown (crash recovery on restart).  Then, per
# schedule: no workflow_id started twice, no fire time between the first
# and the last fire without its run (the restart is well within the one
# minute catchup_window, so the fires of the downtime are caught up, not
# missed), and the schedule's last_fire_at is its latest run.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use WorkflowTest;

my $S = 20;
my $node = new_node('schedule_crash');
my $db = 'postgres';

$node->safe_psql(
	$db, qq{
CREATE EXTENSION workflow;
CREATE FUNCTION noop(input jsonb) RETURNS jsonb LANGUAGE sql AS \$\$ SELECT input \$\$;
SELECT workflow.register_workflow('noop', 'noop(jsonb)');
SELECT count(workflow.create_schedule('s' || i, 'every 1 second', 'noop', jsonb_build_object('s', i),
	'{"overlap": "allow_all"}'))
  FROM generate_series(1, $S) i;
});

my $runs_sql = q{SELECT count(*) FROM workflow.workflows WHERE search_attributes ? 'schedule_id'};
ok(poll($node, $db, "SELECT ($runs_sql) >= " . 2 * $S), 'the scheduler fires the schedules');

for my $crash (1 .. 2)
{
	my $before = $node->safe_psql($db, $runs_sql);
	ok(poll($node, $db, "SELECT ($runs_sql) >= $before + $S"), "crash $crash: fires go on");
	$node->stop('immediate');
	$node->start;
	note("crash $crash after $before fires");
}
my $at = $node->safe_psql($db, $runs_sql);
ok(poll($node, $db, "SELECT ($runs_sql) >= $at + 2 * $S"), 'after the crashes the schedules fire again');
$node->safe_psql($db,
	"SELECT workflow.pause_schedule(schedule_id) FROM workflow.schedules");
sleep 1;    # a fire in progress commits or not, before we look

is( $node->safe_psql(
		$db, q{
SELECT count(*) FROM (SELECT workflow_id FROM workflow.workflows GROUP BY 1 HAVING count(*) > 1) d}),
	'0', 'no fire started twice');
is( $node->safe_psql(
		$db, q{
WITH fires AS (
	SELECT search_attributes->>'schedule_id' AS s, (search_attributes->>'scheduled_at')::timestamptz AS t
	  FROM workflow.workflows WHERE search_attributes ? 'schedule_id')
SELECT count(*) FROM (
	SELECT s, min(t), max(t), count(*) FROM fires GROUP BY s
	HAVING count(*) <> extract(epoch FROM max(t) - min(t))::int + 1) gaps}),
	'0', 'no fire time lost: every second from the first fire to the last has its run');
is( $node->safe_psql(
		$db, q{
SELECT count(*) FROM workflow.schedules s
 WHERE s.last_fire_at IS DISTINCT FROM
	   (SELECT max((search_attributes->>'scheduled_at')::timestamptz) FROM workflow.workflows w
		 WHERE w.search_attributes->>'schedule_id' = s.schedule_id)
	OR s.missed <> 0}),
	'0', 'each schedule knows its last fire, and missed none');
is($node->safe_psql($db, "SELECT count(*) FROM workflow.workflows WHERE status <> 'completed'"),
	'0', 'every fired run completed');
my @problems = history_problems($node, $db);
is(scalar(@problems), 0, 'histories gapless') or diag(join("\n", @problems));
ok(!$node->log_contains(qr/PANIC|fire of schedule .* failed/), 'no PANIC and no failed fire in the log');

$node->stop;
done_testing();
