# The schedulers follow the extension and the databases:
# - DROP EXTENSION workflow completes promptly and that database's
#   scheduler goes away, and stays away;
# - CREATE EXTENSION workflow again brings a scheduler back (the launcher,
#   within workflow.launcher_naptime), and it works: a timer fires without
#   tick(), also for a session that used the engine before the DROP;
# - DROP DATABASE (plain and WITH (FORCE)), ALTER DATABASE ... RENAME and
#   CREATE DATABASE ... TEMPLATE of a database whose scheduler is running
#   complete in well under 5 s, without error; the renamed database and
#   the template get their scheduler back afterwards;
# - creating a database with the extension and dropping it at once works.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep sleep);
use WorkflowTest;

my $t_start = time();
# Schedulers sleep up to a minute when nothing is due: leaving promptly
# after DROP EXTENSION takes the commit's wake-up of every one of them.
my $node = new_node('drop', extra_conf => "workflow.max_naptime = 60000\nworkflow.max_workers = 2\n");

my $sched_of = sub {
	my ($db) = @_;
	return "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'workflow scheduler' AND datname = '$db'";
};
my $pool_of = sub {
	my ($db) = @_;
	return "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'workflow scheduler%' AND datname = '$db'";
};

# A database with the extension, a registered workflow and some pending
# work (a timer an hour away, a ready task).
sub setup_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql(
		$db, q{
CREATE EXTENSION workflow;
CREATE FUNCTION nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep((input->>'nap')::interval);
	RETURN workflow.activity('Act', input, 'q');
END $$;
SELECT workflow.register_workflow('nap', 'nap(jsonb)');
SELECT workflow.start_workflow('nap', '{"nap": "1 hour"}', 'wf-hour');
CREATE FUNCTION act(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Act', input, 'q');
END $$;
SELECT workflow.register_workflow('act', 'act(jsonb)');
SELECT workflow.start_workflow('act', '{}', 'wf-act');
});
	return;
}

# Run an SQL command from database postgres; returns (ok, seconds, error).
sub timed
{
	my ($db, $sql) = @_;
	my $t0 = time();
	my ($rc, $out, $err) = $node->psql($db, $sql, on_error_stop => 1);
	return ($rc == 0, time() - $t0, $err);
}

# -------------------------------------------------------- DROP EXTENSION
setup_db('wfdb');
ok(poll($node, 'postgres', $sched_of->('wfdb'), '1'), 'a scheduler serves wfdb');
ok(poll($node, 'postgres', $pool_of->('wfdb'), '2'), 'with its helper');

my ($ok, $secs, $err) = timed('wfdb', 'DROP EXTENSION workflow');
ok($ok, 'DROP EXTENSION workflow succeeds') or diag($err);
cmp_ok($secs, '<', 5, sprintf('DROP EXTENSION completes promptly (%.2f s)', $secs));
ok(poll($node, 'postgres', $pool_of->('wfdb'), '0', 10),
	'every scheduler of wfdb goes away (woken by the commit, not at its next wake-up)');
# Several launcher passes later, still none.
sleep(1.5);
is($node->safe_psql('postgres', $sched_of->('wfdb')), '0',
	'no scheduler comes back while the extension is absent');

# ------------------------------------------------------ CREATE EXTENSION
# One session uses the engine, sees the extension dropped and created
# again, and goes on using it.
($ok, $secs, $err) = timed(
	'wfdb', q{
CREATE EXTENSION workflow;
CREATE FUNCTION nap2(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 second');
	RETURN '{"slept": true}';
END $$;
SELECT workflow.register_workflow('nap2', 'nap2(jsonb)');
SELECT workflow.start_workflow('nap2', '{}', 'wf-a');
-- (let the scheduler finish the wake-up this commit caused: see
-- 041_drop_busy.pl for DROP EXTENSION racing a busy scheduler)
SELECT pg_sleep(0.3);
DROP EXTENSION workflow;
CREATE EXTENSION workflow;
SELECT workflow.register_workflow('nap2', 'nap2(jsonb)');
SELECT workflow.start_workflow('nap2', '{}', 'wf-b');
});
ok($ok, 'one session can use the engine across DROP and CREATE EXTENSION') or diag($err);
ok(poll($node, 'postgres', $sched_of->('wfdb'), '1', 10),
	'CREATE EXTENSION brings a scheduler back');
ok( poll($node, 'wfdb',
		"SELECT string_agg(workflow_id || ':' || status, ',') FROM workflow.workflows", 'wf-b:completed', 10),
	'the new scheduler fires a timer (no tick)');

# ---------------------------------------------------------- DROP DATABASE
for my $force (0, 1)
{
	my $db = $force ? 'dropforce' : 'dropme';
	setup_db($db);
	ok(poll($node, 'postgres', $sched_of->($db), '1'), "a scheduler serves $db");
	my ($pid) = scheduler_pids($node, $db);
	($ok, $secs, $err) = timed('postgres', "DROP DATABASE $db" . ($force ? ' WITH (FORCE)' : ''));
	ok($ok, "DROP DATABASE $db" . ($force ? ' WITH (FORCE)' : '') . ' succeeds while its scheduler runs')
	  or diag($err);
	cmp_ok($secs, '<', 5, sprintf('and takes %.2f s', $secs));
	ok(poll($node, 'postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0', 10),
		"$db\'s scheduler is gone");
}

# ALTER DATABASE ... RENAME needs the database free too.
setup_db('renameme');
ok(poll($node, 'postgres', $sched_of->('renameme'), '1'), 'a scheduler serves renameme');
($ok, $secs, $err) = timed('postgres', 'ALTER DATABASE renameme RENAME TO renamed');
ok($ok, 'ALTER DATABASE RENAME succeeds while its scheduler runs') or diag($err);
cmp_ok($secs, '<', 5, sprintf('and takes %.2f s', $secs));

# CREATE DATABASE ... TEMPLATE copies a database that must be free.
($ok, $secs, $err) = timed('postgres', 'CREATE DATABASE wfcopy TEMPLATE wfdb');
ok($ok, 'CREATE DATABASE ... TEMPLATE succeeds while the template\'s scheduler runs') or diag($err);
cmp_ok($secs, '<', 5, sprintf('and takes %.2f s', $secs));
ok(poll($node, 'postgres', $sched_of->('wfcopy'), '1', 10), 'the copy gets its own scheduler');
ok(poll($node, 'wfcopy', "SELECT workflow.start_workflow('nap2', '{}', 'wf-c') = 'wf-c'"),
	'the copy works');
ok( poll($node, 'wfcopy', "SELECT status FROM workflow.workflows WHERE workflow_id = 'wf-c'",
		'completed', 10),
	'its scheduler fires its timers');

# Create a database with the extension, drop it at once: the scheduler
# may be starting meanwhile.
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', "CREATE DATABASE quick$i");
	$node->safe_psql("quick$i", 'CREATE EXTENSION workflow');
	usleep(100_000 * ($i - 1));
	($ok, $secs, $err) = timed('postgres', "DROP DATABASE quick$i");
	ok($ok && $secs < 5, sprintf('DROP DATABASE right after CREATE EXTENSION (round %d, %.2f s)', $i, $secs))
	  or diag($err);
}

# The databases whose scheduler was stopped for RENAME and TEMPLATE get it
# back (after the launcher's pause) and their due work is done.
$node->safe_psql('renamed', "SELECT workflow.start_workflow('nap', '{\"nap\": \"1 second\"}', 'wf-renamed')");
ok(poll($node, 'postgres', $sched_of->('renamed'), '1', 25), 'the renamed database gets its scheduler back');
ok( poll($node, 'renamed',
		"SELECT count(*) FROM workflow.history WHERE workflow_id = 'wf-renamed' AND event_type = 'TimerFired'",
		'1', 10),
	'and it fires the timer that fell due meanwhile');
ok(poll($node, 'postgres', $sched_of->('wfdb'), '1', 25), 'the template database gets its scheduler back');

is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'workflow launcher'"),
	'1', 'the launcher still runs');
ok(!$node->log_contains(qr/workflow (launcher|scheduler).*(terminated by signal|exited with exit code [^01])/),
	'no workflow process crashed');

$node->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
