# The launcher keeps exactly one scheduler per database, also when one of
# them goes away on its own:
# - a scheduler that is terminated (pg_terminate_backend) is replaced;
# - when the launcher itself is terminated, the postmaster restarts it
#   (bgw_restart_time) and the new launcher must not start a second
#   scheduler for databases whose scheduler is still running: two
#   schedulers per database would double the background work, leak a
#   worker slot per launcher restart, and make DROP DATABASE fail (the hook
#   stops only the scheduler it knows; the other keeps the database busy).
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
my $node = new_node('launcher');

$node->safe_psql('postgres', 'CREATE DATABASE d1');
for my $db ('postgres', 'd1')
{
	$node->safe_psql(
		$db, q{
CREATE EXTENSION workflow;
CREATE FUNCTION nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('500 milliseconds');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('nap', 'nap(jsonb)');
});
}

my $count_of = sub {
	my ($db) = @_;
	return "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'workflow scheduler' AND datname = '$db'";
};
ok(poll($node, 'postgres', $count_of->('postgres'), '1'), 'one scheduler for postgres');
ok(poll($node, 'postgres', $count_of->('d1'), '1'), 'one scheduler for d1');

# A terminated scheduler is replaced.
my ($old) = scheduler_pids($node, 'd1');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
ok( poll($node, 'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler'"
		  . " AND datname = 'd1' AND pid <> $old", 't', 10),
	'a terminated scheduler is replaced');
sleep(1.5);    # three launcher passes
is($node->safe_psql('postgres', $count_of->('d1')), '1', 'and there is still exactly one');

# The launcher is terminated: the postmaster starts a new one.
my $launcher = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'workflow launcher'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok( poll($node, 'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow launcher' AND pid <> $launcher",
		't', 15),
	'a new launcher starts after the old one was terminated');
sleep(1.5);    # three passes of the new launcher
is($node->safe_psql('postgres', $count_of->('postgres')), '1',
	'still exactly one scheduler for postgres after the launcher restart');
is($node->safe_psql('postgres', $count_of->('d1')), '1',
	'still exactly one scheduler for d1 after the launcher restart');

# The schedulers work.
$node->safe_psql('d1', "SELECT workflow.start_workflow('nap', '{}', 'wf-d1')");
ok(poll($node, 'd1', "SELECT status FROM workflow.workflows WHERE workflow_id = 'wf-d1'", 'completed', 10),
	'd1\'s timers fire');

# DROP DATABASE must find the database free.
my $t0 = time();
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE d1');
my $secs = time() - $t0;
is($rc, 0, 'DROP DATABASE d1 succeeds after the launcher restart') or diag($err);
cmp_ok($secs, '<', 5, sprintf('and takes %.2f s', $secs));

# The same for a launcher restart that happens while it has nothing to do.
$launcher = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'workflow launcher'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok( poll($node, 'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow launcher' AND pid <> $launcher",
		't', 15),
	'a new launcher starts again');
sleep(1.5);
is($node->safe_psql('postgres', $count_of->('postgres')), '1',
	'still exactly one scheduler for postgres after a second launcher restart');

$node->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
