# pg_dump -Fc of a database with workflows in every waiting state, restored
# with pg_restore into a fresh database of another cluster (the library
# preloaded, the roles created there by name, with other OIDs): every
# workflow goes on and finishes with its expected result, driven by the
# restored cluster's scheduler; the histories are kept and continue
# gapless; new task and signal ids follow the restored ones; queue grants
# hold.  The restore pauses (in its own session) after everything but the
# runs themselves, until the restored timers and backoffs are overdue: a
# scheduler working then would take them for orphans of runs that do not
# exist (yet) and drop them, and the runs would never finish.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use WorkflowTest;

my $db = 'app';
my $src = new_node('dump_src');
my $dst = new_node('dump_dst');

# The roles, by name on both clusters; on the target created after another
# one, so that their OIDs differ there.
my $roles = q{
CREATE ROLE app LOGIN;
CREATE ROLE bob LOGIN;
};
$src->safe_psql('postgres', $roles);
$dst->safe_psql('postgres', "CREATE ROLE filler; $roles");
isnt(
	$src->safe_psql('postgres', "SELECT 'bob'::regrole::oid"),
	$dst->safe_psql('postgres', "SELECT 'bob'::regrole::oid"),
	'the roles have other OIDs on the target cluster');

$src->safe_psql('postgres', "CREATE DATABASE $db");
$src->safe_psql(
	$db, q{
CREATE EXTENSION workflow;
CREATE SCHEMA app AUTHORIZATION app;
SELECT workflow.grant_queue('jobs', 'bob');
SELECT workflow.grant_queue('jobs', 'app', 'produce');
SELECT workflow.grant_queue('default', 'app', 'produce');
SET ROLE app;
CREATE FUNCTION app.one_task(input jsonb) RETURNS jsonb LANGUAGE plpgsql
SET search_path = app, pg_catalog AS $$
BEGIN
	RETURN workflow.activity('Work', input, 'jobs', '{"start_to_close_timeout": "1 hour"}');
END $$;
CREATE FUNCTION app.flaky(input jsonb) RETURNS jsonb LANGUAGE plpgsql
SET search_path = app, pg_catalog AS $$
BEGIN
	RETURN workflow.activity('Flaky', input, 'jobs',
		'{"retry": {"initial_interval": "6 seconds"}, "start_to_close_timeout": "1 hour"}');
END $$;
CREATE FUNCTION app.sleeper(input jsonb) RETURNS jsonb LANGUAGE plpgsql
SET search_path = app, pg_catalog AS $$
BEGIN
	PERFORM workflow.sleep('6 seconds');
	RETURN '{"slept": true}';
END $$;
CREATE FUNCTION app.waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql
SET search_path = app, pg_catalog AS $$
BEGIN
	RETURN jsonb_build_object('got', workflow.wait_signal('go'));
END $$;
CREATE FUNCTION app.parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql
SET search_path = app, pg_catalog AS $$
BEGIN
	RETURN jsonb_build_object('child', workflow.child_workflow('one_task', input, 'child'));
END $$;
CREATE FUNCTION app.saga(input jsonb) RETURNS jsonb LANGUAGE plpgsql
SET search_path = app, pg_catalog AS $$
BEGIN
	PERFORM workflow.activity('Reserve', input, 'jobs', '{}', 'Unreserve');
	PERFORM workflow.activity('Charge', input, 'jobs', '{"retry": {"maximum_attempts": 1}}');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('one_task', 'app.one_task(jsonb)');
SELECT workflow.register_workflow('flaky', 'app.flaky(jsonb)');
SELECT workflow.register_workflow('sleeper', 'app.sleeper(jsonb)');
SELECT workflow.register_workflow('waiter', 'app.waiter(jsonb)');
SELECT workflow.register_workflow('parent', 'app.parent(jsonb)');
SELECT workflow.register_workflow('saga', 'app.saga(jsonb)');
});

# Run SQL as a role (app: the owner of the runs; bob: the worker).
sub as_role
{
	my ($node, $role, $sql) = @_;
	return $node->safe_psql($db, "SET ROLE $role; $sql");
}

# Claim one task of queue jobs as bob; returns (task_id, activity, attempt)
# or an empty list after $timeout seconds.
sub claim
{
	my ($node, $timeout) = @_;
	my $deadline = time() + ($timeout // 30);
	while (time() < $deadline)
	{
		my $row = as_role($node, 'bob',
			"SET workflow.session_leases = off;"
			  . " SELECT task_id, activity, attempt FROM workflow.claim_activities('jobs', 'bob-1', 1)");
		return split /\|/, $row if $row ne '';
		usleep(100_000);
	}
	return ();
}

# Every waiting state, each in its own workflow.
sub start
{
	my ($type, $id) = @_;
	as_role($src, 'app', "SELECT workflow.start_workflow('$type', '{\"n\": 1}', '$id')");
}

start('one_task', 'claimed');
my ($claimed_task, $act) = claim($src);
is($act, 'Work', 'claimed: its activity is claimed before the dump');

start('flaky', 'retrying');
my ($flaky_task, $flaky_act) = claim($src);
is($flaky_act, 'Flaky', 'retrying: its activity is claimed');
as_role($src, 'bob', "SELECT workflow.fail_activity($flaky_task, 'boom', true)");

start('saga', 'saga');
my ($reserve, $reserve_act) = claim($src);
is($reserve_act, 'Reserve', 'saga: first step claimed');
as_role($src, 'bob', "SELECT workflow.complete_activity($reserve, '{\"reserved\": true}')");
my ($charge, $charge_act) = claim($src);
is($charge_act, 'Charge', 'saga: second step claimed');
as_role($src, 'bob', "SELECT workflow.fail_activity($charge, 'declined', false)");

start('parent', 'parent');
start('sleeper', 'sleeper');
start('waiter', 'waiter');
as_role($src, 'app', "SELECT workflow.signal_workflow('waiter', 'noise', '{\"n\": 0}')");

is( $src->safe_psql(
		$db, q{
SELECT string_agg(w.workflow_id || ':' || w.status || ':' ||
	coalesce((SELECT string_agg(t.activity || '/' || t.status, ',' ORDER BY t.task_id)
			  FROM workflow.tasks t WHERE t.workflow_id = w.workflow_id), '') || ':' ||
	(SELECT count(*) FROM workflow.timers m WHERE m.workflow_id = w.workflow_id),
	' ' ORDER BY w.workflow_id)
  FROM workflow.workflows w}),
	'child:running:Work/ready:0 claimed:running:Work/running:0 parent:running::0 '
	  . 'retrying:running:Flaky/backoff:0 saga:compensating:Unreserve/ready:0 '
	  . 'sleeper:running::1 waiter:running::0',
	'before the dump: a claimed activity, a retry backing off, a compensation, a parent '
	  . 'waiting on its child, a timer, a signal wait');

my %before = (
	history => $src->safe_psql($db,
		"SELECT string_agg(workflow_id || ' ' || event_id || ' ' || event_type || ' ' || data::text, E'\\n' "
		  . "ORDER BY workflow_id, event_id) FROM workflow.history"),
	events => $src->safe_psql($db, 'SELECT count(*) FROM workflow.history'),
	tables => $src->safe_psql($db,
		"SELECT count(*) FROM pg_catalog.pg_class WHERE relkind = 'r'"
		  . " AND relnamespace = 'workflow'::pg_catalog.regnamespace"),
	last_event_at => $src->safe_psql($db, 'SELECT max(created_at) FROM workflow.history'),
	task_seq => $src->safe_psql($db, 'SELECT last_value FROM workflow.tasks_task_id_seq'),
	max_signal => $src->safe_psql($db,
		"SELECT max((data->>'signal_id')::bigint) FROM workflow.history WHERE event_type = 'SignalReceived'"),
	due => $src->safe_psql($db,
		"SELECT extract(epoch FROM GREATEST((SELECT max(fire_at) FROM workflow.timers),"
		  . " (SELECT max(due_at) FROM workflow.tasks WHERE status = 'backoff')))"),
);

# The dump, and the restore in one session that pauses before the runs.
my $dir = PostgreSQL::Test::Utils::tempdir;
my $dump = "$dir/app.dump";
command_ok([ 'pg_dump', '-Fc', '-d', $src->connstr($db), '-f', $dump ], 'pg_dump -Fc');
$src->stop;

my $list = `pg_restore -l $dump`;
is($?, 0, 'pg_restore -l');
my @entries = grep { /^\d+;/ } split /\n/, $list;
my @runs = grep { /TABLE DATA workflow workflows / } @entries;
is(scalar @runs, 1, "the dump holds the rows of workflow.workflows");
my @data = grep { /TABLE DATA workflow / } @entries;
cmp_ok($before{tables}, '>=', 11, 'the extension has its state tables');
is(scalar @data, $before{tables}, 'the dump holds the rows of every table of the extension');
is(scalar(grep { /SEQUENCE SET workflow (tasks_task_id_seq|signals_signal_id_seq) / } @entries),
	2, 'the dump holds the positions of the identity sequences');

PostgreSQL::Test::Utils::append_to_file("$dir/first.list",
	join("\n", grep { !/TABLE DATA workflow workflows / } @entries) . "\n");
PostgreSQL::Test::Utils::append_to_file("$dir/runs.list", "$runs[0]\n");
command_ok([ 'pg_restore', '-L', "$dir/first.list", '-f', "$dir/first.sql", $dump ],
	'the restore script without the runs');
command_ok([ 'pg_restore', '-L', "$dir/runs.list", '-f', "$dir/runs.sql", $dump ],
	'the restore script of the runs');
PostgreSQL::Test::Utils::append_to_file(
	"$dir/restore.sql",
	PostgreSQL::Test::Utils::slurp_file("$dir/first.sql")
	  . "\nSELECT pg_catalog.pg_sleep(GREATEST(0, $before{due} - extract(epoch FROM pg_catalog.clock_timestamp())) + 3);\n"
	  . PostgreSQL::Test::Utils::slurp_file("$dir/runs.sql"));

$dst->safe_psql('postgres', "CREATE DATABASE $db");
my $t0 = time();
command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $dst->connstr($db), '-f', "$dir/restore.sql" ],
	'the restore runs (pausing until the restored timers and backoffs are overdue)');
note('restore took ' . elapsed_since($t0) . 's');
like(
	PostgreSQL::Test::Utils::slurp_file($dst->logfile),
	qr/workflow scheduler of database "app" waits for a restore to end/,
	'the scheduler waited for the restoring session');

# The schedulers go on as soon as the restoring session ends: count the
# events written before the dump only.
is($dst->safe_psql($db,
		"SELECT count(*) FROM workflow.history WHERE created_at <= '$before{last_event_at}'"),
	$before{events}, 'every event is restored');
is($dst->safe_psql($db, 'SELECT last_value FROM workflow.tasks_task_id_seq'),
	$before{task_seq}, 'the task id sequence is where it was');
is( $dst->safe_psql($db,
		"SELECT string_agg(queue || ' ' || grantee::text || ' ' || privilege, ', ' ORDER BY queue, grantee::text, privilege) FROM workflow.queue_grants"
	),
	'default app produce, jobs app produce, jobs bob consume',
	'queue grants are restored, by role name');
is($dst->safe_psql($db, "SELECT count(*) FROM workflow.queue_grants WHERE grantee = 'bob'::regrole"),
	1, "the grant is bob's on the target cluster (its OID there)");

# The worker goes on where it was: its claimed task, by the same id.
as_role($dst, 'bob', "SELECT workflow.complete_activity($claimed_task, '{\"done\": \"claimed\"}')");

# The retry (its backoff was due during the restore), the compensation and
# the child's activity: claimable by bob, through the restored grant.
my %done;
for (1 .. 3)
{
	my ($id, $activity, $attempt) = claim($dst, 30);
	last unless defined $id;
	$done{$activity} = $attempt;
	as_role($dst, 'bob', "SELECT workflow.complete_activity($id, '{\"done\": \"$activity\"}')");
}
is_deeply(\%done, { Flaky => 2, Unreserve => 1, Work => 1 },
	'the retry (second attempt), the compensation and the child activity are claimed and done');

as_role($dst, 'app', "SELECT workflow.signal_workflow('waiter', 'go', '{\"v\": 1}')");

ok( poll(
		$dst, $db,
		"SELECT count(*) FILTER (WHERE closed_at IS NULL) = 0 AND count(*) = 7 FROM workflow.workflows",
		't', 60),
	'every restored workflow finishes');
is( $dst->safe_psql(
		$db,
		"SELECT string_agg(workflow_id || ' ' || status || ' ' || coalesce(result::text, ''), E'\\n' ORDER BY workflow_id) FROM workflow.workflows"
	),
	join("\n",
		'child completed {"done": "Work"}',
		'claimed completed {"done": "claimed"}',
		'parent completed {"child": {"done": "Work"}}',
		'retrying completed {"done": "Flaky"}',
		'saga compensated ',
		'sleeper completed {"slept": true}',
		'waiter completed {"got": {"v": 1}}'),
	'each with its expected result');

is( $dst->safe_psql($db,
		"SELECT string_agg(workflow_id || ' ' || event_id || ' ' || event_type || ' ' || data::text, E'\\n' "
		  . "ORDER BY workflow_id, event_id) FROM workflow.history WHERE created_at <= '$before{last_event_at}'"),
	$before{history}, 'the restored histories are the dumped ones, event for event');
my @problems = history_problems($dst, $db);
is_deeply(\@problems, [], 'event ids continue gapless, nothing recorded twice');

# New ids follow the restored ones.
as_role($dst, 'app', "SELECT workflow.start_workflow('one_task', '{\"n\": 2}', 'fresh')");
cmp_ok($dst->safe_psql($db, "SELECT task_id FROM workflow.tasks WHERE workflow_id = 'fresh'"),
	'>', $before{task_seq}, 'a new task id follows the restored ones');
cmp_ok(
	$dst->safe_psql($db,
		"SELECT (data->>'signal_id')::bigint FROM workflow.history WHERE workflow_id = 'waiter'"
		  . " AND event_type = 'SignalReceived' AND data->>'signal' = 'go'"),
	'>', $before{max_signal}, 'a new signal id follows the restored ones');

done_testing();
