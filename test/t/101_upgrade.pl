# ALTER EXTENSION workflow UPDATE from 0.1 (the released script) to 0.2.
#
# 1. With this library: an installation at 0.1 refuses every function with
#    a clear error (SQLSTATE 55000, the hint naming ALTER EXTENSION
#    workflow UPDATE) and its scheduler idles, saying so once in the log;
#    after the update everything works, and the extension's objects
#    (\dx+ workflow), columns, constraints, indexes, policies, functions,
#    privileges and configuration tables are those of a fresh 0.2 install.
# 2. With the released 0.1 library (test/build-release.sh builds it from
#    git; test/run.sh passes it as WF_RELEASE_0_1): workflows started and
#    left waiting under 0.1 (a timer, a signal with published state, a
#    claimed activity, a ready one, a parent waiting on its child), then
#    the new library installed and the server restarted, then the update:
#    they all finish, histories gapless, the 0.1 queue grant kept.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use WorkflowTest;

# Everything that makes up the installed extension, one object per line,
# sorted; names only, no OIDs.
my $fingerprint_sql = q{
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'workflow'),
rels AS (SELECT c.oid, c.relname FROM pg_class c
		  WHERE c.relnamespace = 'workflow'::regnamespace)
SELECT line FROM (
	SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
	UNION ALL
	SELECT 'relation ' || c.relname || ' kind ' || c.relkind::text || ' options ' || coalesce(c.reloptions::text, '-')
		   || ' rls ' || c.relrowsecurity || ' acl ' || coalesce(c.relacl::text, '-')
		   || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
	  FROM pg_class c WHERE c.relnamespace = 'workflow'::regnamespace
	UNION ALL
	SELECT 'column ' || r.relname || ' #' || row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum)
		   || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
		   || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
		   || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
		   || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
		   || ' acl ' || coalesce(a.attacl::text, '-')
	  FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	 WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'constraint ' || r.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
	  FROM rels r JOIN pg_constraint co ON co.conrelid = r.oid
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	  FROM rels r JOIN pg_index i ON i.indrelid = r.oid
	UNION ALL
	SELECT 'policy ' || p.tablename || ' ' || p.policyname || ' ' || p.cmd || ' ' || p.roles::text
		   || ' ' || coalesce(p.qual, '-') || ' ' || coalesce(p.with_check, '-')
	  FROM pg_policies p WHERE p.schemaname = 'workflow'
	UNION ALL
	SELECT 'trigger ' || t.tgname || ' ' || pg_get_triggerdef(t.oid)
	  FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid
	UNION ALL
	SELECT 'sequence ' || s.seqrelid::regclass || ' ' || s.seqtypid::regtype || ' ' || s.seqstart
		   || ' ' || s.seqincrement || ' ' || s.seqmax || ' ' || s.seqcache || ' ' || s.seqcycle
	  FROM pg_sequence s JOIN rels r ON r.oid = s.seqrelid
	UNION ALL
	SELECT 'function ' || p.proname || '(' || pg_get_function_arguments(p.oid) || ') returns '
		   || pg_get_function_result(p.oid) || ' ' || p.prolang::regproc::text || ' ' || p.provolatile::text
		   || ' strict ' || p.proisstrict || ' definer ' || p.prosecdef || ' src ' || p.prosrc
		   || ' bin ' || coalesce(p.probin, '-') || ' config ' || coalesce(p.proconfig::text, '-')
		   || ' acl ' || coalesce(p.proacl::text, '-')
	  FROM pg_proc p WHERE p.pronamespace = 'workflow'::regnamespace
	UNION ALL
	SELECT 'schema acl ' || coalesce(n.nspacl::text, '-') FROM pg_namespace n WHERE n.nspname = 'workflow'
	UNION ALL
	SELECT 'config ' || c::regclass::text || ' ' || coalesce(ext.extcondition[i], '-')
	  FROM ext, unnest(ext.extconfig) WITH ORDINALITY AS u(c, i)
) lines(line) ORDER BY line COLLATE "C"};

# psql's own \dx+ workflow (the extension's objects).
sub dx_plus
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, '\dx+ workflow');
}

# ------------------------------------------------------------------ part 1

my $node = new_node('upgrade');

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('fresh', 'CREATE EXTENSION workflow');
$node->safe_psql('old', "CREATE EXTENSION workflow VERSION '0.1'");
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'workflow'"),
	'0.1', 'the released 0.1 script installs');

# Every function of the library refuses the 0.1 schema, saying what to run.
for my $call (
	"workflow.start_workflow('t', '{}')",
	"workflow.claim_activities('q')",
	"workflow.signal_workflow('w', 's')",
	'workflow.tick()')
{
	my ($rc, $out, $err) =
	  $node->psql('old', "\\set VERBOSITY verbose\nSELECT $call");
	like(
		$err,
		qr/ERROR:  55000: extension "workflow" is installed at version 0\.1, but its library needs version 0\.2.*HINT:  Run ALTER EXTENSION workflow UPDATE\./s,
		"$call on the 0.1 schema: a clear error naming ALTER EXTENSION workflow UPDATE");
}

# The scheduler idles, and says why once (not once per naptime).
ok( poll($node, 'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'workflow scheduler' AND datname = 'old'"
	),
	'the 0.1 database has a scheduler');
sleep 3;    # three naptimes
my $idle_re =
  qr/workflow scheduler of database "old" is idle: extension "workflow" is installed at version 0\.1/;
my @idle = grep { /$idle_re/ } split /\n/, slurp_file($node->logfile);
my $schedulers = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'workflow scheduler%' AND datname = 'old'");
ok(@idle >= 1 && @idle <= $schedulers,
	'the scheduler logs that it is idle, once (' . scalar(@idle) . " lines, $schedulers schedulers)");

# The update, then the same calls work.
$node->safe_psql('old', 'ALTER EXTENSION workflow UPDATE');
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'workflow'"),
	'0.2', 'ALTER EXTENSION workflow UPDATE moves it to 0.2');
like(slurp_file($node->logfile), qr/workflow scheduler of database "old" resumes/,
	'the scheduler resumes after the update');
$node->safe_psql(
	'old', q{
CREATE FUNCTION public.napper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 second');
	RETURN '{"ok": true}';
END $$;
SELECT workflow.register_workflow('napper', 'public.napper(jsonb)');
SELECT workflow.start_workflow('napper', '{}', 'nap');
});
ok(poll($node, 'old', "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'nap'"),
	'after the update a new workflow runs to its end (the scheduler fires its timer)');

is(dx_plus($node, 'old'), dx_plus($node, 'fresh'),
	'\dx+ workflow: the updated extension has the objects of a fresh 0.2 install');
my $fresh_fp = $node->safe_psql('fresh', $fingerprint_sql);
like($fresh_fp, qr/^config workflow\.tasks_task_id_seq \s*$/m, 'the fingerprint sees the configuration tables');
is($node->safe_psql('old', $fingerprint_sql), $fresh_fp,
	'columns, constraints, indexes, policies, functions, privileges and configuration: the same');

$node->stop;

# ------------------------------------------------------------------ part 2

SKIP:
{
	my $old_lib = $ENV{WF_RELEASE_0_1} // '';
	skip 'the 0.1 library is not available (WF_RELEASE_0_1: test/run.sh builds it from git with '
	  . 'test/build-release.sh; 0.1 builds only against PostgreSQL 15)', 1
	  unless $old_lib ne '' && -f $old_lib;

	# A private copy of the installation (as DESTDIR would lay it out: the
	# binaries find their libraries and scripts relative to themselves),
	# with the 0.1 library and scripts in place of the current ones.
	my $root = PostgreSQL::Test::Utils::tempdir . '/inst';
	my %dir;
	$dir{$_} = `pg_config --$_` for qw(bindir pkglibdir sharedir);
	chomp %dir;
	make_path("$root$_") for values %dir;
	system('cp', '-a', "$dir{bindir}/.", "$root$dir{bindir}") == 0 or die "copy of $dir{bindir} failed";
	for my $d ($dir{pkglibdir}, $dir{sharedir})
	{
		opendir(my $dh, $d) or die "$d: $!";
		for my $f (readdir $dh)
		{
			next if $f =~ /^\.\.?$/ || $f =~ /^workflow\./ || $f eq 'extension';
			symlink("$d/$f", "$root$d/$f") or die "symlink $d/$f: $!";
		}
		closedir $dh;
	}
	my $extdir = "$dir{sharedir}/extension";
	make_path("$root$extdir");
	opendir(my $eh, $extdir) or die "$extdir: $!";
	for my $f (readdir $eh)
	{
		next if $f =~ /^\.\.?$/ || $f =~ /^workflow[.-]/;
		symlink("$extdir/$f", "$root$extdir/$f") or die "symlink $extdir/$f: $!";
	}
	closedir $eh;

	# "Install a package": the library and the extension's files of a version.
	my $install = sub {
		my ($lib, $control, @scripts) = @_;
		unlink glob("$root$extdir/workflow*"), "$root$dir{pkglibdir}/workflow.so";
		copy($lib, "$root$dir{pkglibdir}/workflow.so") or die "copy $lib: $!";
		PostgreSQL::Test::Utils::append_to_file("$root$extdir/workflow.control", $control);
		copy("$extdir/$_", "$root$extdir/$_") or die "copy $_: $!" for @scripts;
	};
	my $control = slurp_file("$extdir/workflow.control");
	(my $control_01 = $control) =~ s/^default_version = .*$/default_version = '0.1'/m;
	$install->($old_lib, $control_01, 'workflow--0.1.sql');

	my $old = new_node('upgrade_from_0_1', install_path => dirname("$root$dir{bindir}"));
	my $db = 'postgres';
	$old->safe_psql(
		$db, q{
CREATE EXTENSION workflow;
CREATE ROLE bob LOGIN;
SELECT workflow.grant_queue('jobs', 'bob');
CREATE FUNCTION public.sleeper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('3 seconds');
	RETURN '{"slept": true}';
END $$;
CREATE FUNCTION public.waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.set_state('phase', '"waiting"');
	RETURN jsonb_build_object('got', workflow.wait_signal('go'));
END $$;
CREATE FUNCTION public.one_task(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Work', input, 'jobs', '{"start_to_close_timeout": "1 hour"}');
END $$;
CREATE FUNCTION public.parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN jsonb_build_object('child', workflow.child_workflow('one_task', input, 'child'));
END $$;
SELECT workflow.register_workflow('sleeper', 'public.sleeper(jsonb)');
SELECT workflow.register_workflow('waiter', 'public.waiter(jsonb)');
SELECT workflow.register_workflow('one_task', 'public.one_task(jsonb)');
SELECT workflow.register_workflow('parent', 'public.parent(jsonb)');
SELECT workflow.start_workflow('one_task', '{"n": 1}', 'claimed');
});
	is($old->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'workflow'"),
		'0.1', 'the 0.1 library runs the 0.1 schema (this library would refuse to start workflows)');
	my $claimed = $old->safe_psql($db,
		"SET ROLE bob; SELECT task_id FROM workflow.claim_activities('jobs', 'bob-1', 1)");
	like($claimed, qr/^\d+$/, 'under 0.1: a task is claimed');
	$old->safe_psql(
		$db, q{
SELECT workflow.start_workflow('one_task', '{"n": 2}', 'ready');
SELECT workflow.start_workflow('parent', '{"n": 3}', 'parent');
SELECT workflow.start_workflow('waiter', '{}', 'waiter');
SELECT workflow.start_workflow('sleeper', '{}', 'sleeper');
});
	is($old->safe_psql($db, "SELECT workflow.get_state('waiter', 'phase')"),
		'"waiting"', 'under 0.1: the waiter published its state');
	is($old->safe_psql($db, "SELECT count(*) FROM workflow.workflows WHERE closed_at IS NULL"),
		6, 'under 0.1: six runs wait (timer, signal, claimed, ready, parent and child)');

	# The new package: library and scripts; a restart loads the library.
	$old->stop;
	$install->(
		"$dir{pkglibdir}/workflow.so", $control,
		'workflow--0.1.sql', 'workflow--0.2.sql', 'workflow--0.1--0.2.sql');
	$old->start;

	my ($rc, $out, $err) = $old->psql($db, "SELECT workflow.signal_workflow('waiter', 'go', '{\"v\": 1}')");
	like($err, qr/installed at version 0\.1, but its library needs version 0\.2.*ALTER EXTENSION workflow UPDATE/s,
		'new library, old schema: a signal is refused with the hint');
	ok(poll($old, $db, "SELECT max(fire_at) < now() - interval '2 seconds' FROM workflow.timers"),
		"new library, old schema: the sleeper's timer is overdue by two naptimes");
	is( $old->safe_psql($db,
			"SELECT count(*) FILTER (WHERE closed_at IS NULL) || ' open, '"
			  . " || (SELECT count(*) FROM workflow.history WHERE event_type = 'TimerFired') || ' timers fired'"
			  . " FROM workflow.workflows"),
		'6 open, 0 timers fired',
		'new library, old schema: the scheduler leaves everything as it is');

	$old->safe_psql($db, 'ALTER EXTENSION workflow UPDATE');
	is($old->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'workflow'"),
		'0.2', 'updated to 0.2 with the workflows waiting');
	is($old->safe_psql($db, "SELECT workflow.get_state('waiter', 'phase')"),
		'"waiting"', 'the published state is kept (now per run)');
	is( $old->safe_psql($db,
			"SELECT string_agg(grantee::text || ' ' || privilege, ', ' ORDER BY grantee::text, privilege)"
			  . " FROM workflow.queue_grants WHERE queue = 'jobs'"),
		'bob consume, ' . $old->safe_psql($db, 'SELECT current_user') . ' produce',
		"the 0.1 grant is a consume grant; the runs' owner produces on their queue");

	# The worker reports its 0.1 claim, then claims and does the rest.
	$old->safe_psql($db,
		"SET ROLE bob; SELECT workflow.complete_activity($claimed, '{\"done\": \"claimed\"}')");
	my %done;
	my $deadline = time() + 30;
	while (keys %done < 2 && time() < $deadline)
	{
		my $row = $old->safe_psql($db,
			"SET ROLE bob; SET workflow.session_leases = off;"
			  . " SELECT task_id, workflow_id, producer FROM workflow.claim_activities('jobs', 'bob-1', 1)");
		if ($row eq '')
		{
			usleep(100_000);
			next;
		}
		my ($id, $wfid, $producer) = split /\|/, $row;
		$done{$wfid} = $producer;
		$old->safe_psql($db,
			"SET ROLE bob; SELECT workflow.complete_activity($id, '{\"done\": \"$wfid\"}')");
	}
	is(join(',', sort keys %done), 'child,ready', 'the tasks scheduled under 0.1 are claimed and done');
	my $me = $old->safe_psql($db, 'SELECT current_user');
	is(join(',', values %done), "$me,$me", "their claims show the producer the update filled in (the runs' owner)");
	$old->safe_psql($db, "SELECT workflow.signal_workflow('waiter', 'go', '{\"v\": 1}')");

	ok( poll($old, $db, 'SELECT count(*) FILTER (WHERE closed_at IS NULL) = 0 FROM workflow.workflows',
			't', 60),
		'every workflow started under 0.1 finishes');
	is( $old->safe_psql(
			$db,
			"SELECT string_agg(workflow_id || ' ' || status || ' ' || coalesce(result::text, ''), E'\\n' ORDER BY workflow_id) FROM workflow.workflows"
		),
		join("\n",
			'child completed {"done": "child"}',
			'claimed completed {"done": "claimed"}',
			'parent completed {"child": {"done": "child"}}',
			'ready completed {"done": "ready"}',
			'sleeper completed {"slept": true}',
			'waiter completed {"got": {"v": 1}}'),
		'each with its expected result');
	my @problems = history_problems($old, $db);
	is_deeply(\@problems, [], 'histories gapless across the upgrade');

	$old->safe_psql('postgres', 'CREATE DATABASE fresh');
	$old->safe_psql('fresh', 'CREATE EXTENSION workflow');
	is(dx_plus($old, $db), dx_plus($old, 'fresh'),
		'\dx+ workflow after upgrading a used 0.1 installation: the objects of a fresh install');
	is($old->safe_psql($db, $fingerprint_sql), $old->safe_psql('fresh', $fingerprint_sql),
		'and the same columns, constraints, indexes, policies, functions and configuration');
	$old->stop;
}

done_testing();
