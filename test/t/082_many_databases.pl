# The launcher serves every database that has the extension, however many
# do not (it holds scheduler slots only for databases with the extension,
# probing the others a few at a time with short-lived workers), and says
# so with a WARNING naming the database and the setting when
# workflow.max_databases is too small (issue 10, item 14).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);
use WorkflowTest;

my $node = new_node('manydbs', extra_conf => "max_worker_processes = 8\n");
my $nplain = 70;
$node->safe_psql('postgres', "CREATE DATABASE plain_$_") for 1 .. $nplain;
$node->safe_psql('postgres', 'CREATE DATABASE wfdb');

my $setup = q{
CREATE EXTENSION workflow;
CREATE FUNCTION nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 second');
	RETURN '{"woke": true}';
END $$;
SELECT workflow.register_workflow('nap', 'nap(jsonb)');
};
# Restart, so that the launcher meets all the databases at once.
$node->restart;
$node->safe_psql('wfdb', $setup);
$node->safe_psql('wfdb', "SELECT workflow.start_workflow('nap', '{}', 'n1')");
ok( poll($node, 'wfdb', "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'n1'",
		't', 60),
	"the database with the extension is served despite $nplain without it");

$node->restart;
$node->safe_psql('wfdb', "SELECT workflow.start_workflow('nap', '{}', 'n2')");
ok( poll($node, 'wfdb', "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'n2'",
		't', 60),
	'and after a restart, found by probing');
ok( poll($node, 'postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type LIKE 'workflow scheduler%'"
		  . " AND datname LIKE 'plain_%'"),
	'no scheduler stays in a database without the extension');
ok(!$node->log_contains('could not start the workflow scheduler'),
	'probing never ran out of worker processes');

# A limit that bites is a WARNING naming the database and the setting.
$node->safe_psql('postgres', 'CREATE DATABASE wfdb2');
$node->safe_psql('wfdb2', $setup);
$node->append_conf('postgresql.conf', "workflow.max_databases = 1\n");
$node->restart;
ok( poll($node, 'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler'", 't', 60),
	'one database is served');
my $found = 0;
for (1 .. 100)
{
	$found = $node->log_contains(
		qr/WARNING:  database "wfdb2?" has extension "workflow" but no scheduler will serve it/);
	last if $found;
	sleep(0.2);
}
ok($found, 'the other gets a WARNING naming it');
ok($node->log_contains(qr/All 1 slots set by workflow.max_databases are in use/),
	'and the setting');

$node->stop;
done_testing();
