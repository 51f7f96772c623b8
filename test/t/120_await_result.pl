# workflow.await_result across sessions: a waiter blocks (on a condition
# variable, wait event "Extension") until the commit that closes the run,
# and returns right after it (the delay is printed; the assertion is a
# generous bound of a second, not the 50 ms goal, which a loaded machine
# can miss by scheduling alone); it follows
# continue-as-new; a failed or terminated run raises WF013 with its status;
# a timeout returns NULL; pg_cancel_backend and statement_timeout stop it;
# it holds no lock on workflow.workflows while it waits; REPEATABLE READ
# is refused.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use WorkflowTest;

my $node = new_node('await');
my $db = 'postgres';

$node->safe_psql($db, 'CREATE EXTENSION workflow');
$node->safe_psql(
	$db, q{
CREATE FUNCTION one_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Work', input, 'aw', '{"retry": {"maximum_attempts": 1}}');
END $$;
SELECT workflow.register_workflow('one_step', 'one_step(jsonb)');
CREATE FUNCTION looping(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Work', input, 'aw');
	IF (input->>'n')::int < 1 THEN
		PERFORM workflow.continue_as_new(jsonb_build_object('n', (input->>'n')::int + 1));
	END IF;
	RETURN input;
END $$;
SELECT workflow.register_workflow('looping', 'looping(jsonb)');
});

# A waiter: a background session that runs await_result and prints
# RESULT:<result>|<epoch when it returned>.
sub start_waiter
{
	my ($id, $timeout) = @_;
	my $waiter = $node->background_psql($db, on_error_stop => 0,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	my $pid = $waiter->query_safe('SELECT pg_backend_pid()');
	my $arg = defined $timeout ? ", '$timeout'" : '';
	$waiter->query_until(qr/waiting\n/,
		"\\echo waiting\nSELECT 'RESULT:' || coalesce(workflow.await_result('$id'$arg)::text, 'NULL')"
		  . " || '|' || extract(epoch FROM clock_timestamp());\n");
	ok( poll($node, $db,
			"SELECT wait_event_type = 'Extension' AND state = 'active' FROM pg_stat_activity WHERE pid = $pid"),
		"the waiter on $id sleeps (wait event Extension)");
	return ($waiter, $pid);
}

# Wait for the waiter's line (RESULT:..., or an error on stderr).
sub waiter_output
{
	my ($waiter) = @_;
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		$waiter->{run}->pump_nb;
		return ($1, $2) if $waiter->{stdout} =~ /RESULT:(.*)\|([0-9.]+)\n/;
		return (undef, $waiter->{stderr}) if $waiter->{stderr} =~ /ERROR/;
		usleep(5_000);
	}
	return (undef, 'nothing after 30 s');
}

# Is the waiter still blocked (no output yet)?
sub still_waiting
{
	my ($waiter) = @_;
	$waiter->{run}->pump_nb;
	return $waiter->{stdout} !~ /RESULT/ && $waiter->{stderr} !~ /ERROR/;
}

# Claim the ready task of a workflow; its id.  The claiming session ends at
# once: its claim is not bound to it (workflow.session_leases off), so that
# the test reports it later from another session.
sub claim
{
	my ($id) = @_;
	ok( poll($node, $db, "SELECT count(*) FROM workflow.tasks WHERE workflow_id = '$id' AND status = 'ready'",
			'1'),
		"a task of $id is ready");
	return $node->safe_psql($db,
		"SET workflow.session_leases = off;"
		  . " SELECT task_id FROM workflow.claim_activities('aw', 'w', 1) WHERE workflow_id = '$id'");
}

# --------------------------------------------- completed: woken at the commit
$node->safe_psql($db, q{SELECT workflow.start_workflow('one_step', '{"v": 1}', 'wf-a')});
my $task = claim('wf-a');
my ($waiter, $pid) = start_waiter('wf-a', '60 s');
usleep(200_000);
ok(still_waiting($waiter), 'the waiter waits while the run is open');
my $lock = $node->psql($db, q{SET lock_timeout = '2s'; BEGIN; LOCK TABLE workflow.workflows IN ACCESS EXCLUSIVE MODE; ROLLBACK});
is($lock, 0, 'and holds no lock on workflow.workflows while it waits');
my ($before_commit, $after_commit) = split /\n/, $node->safe_psql($db,
	"BEGIN; SELECT workflow.complete_activity($task, '{\"done\": true}') \\g /dev/null\n"
	  . "SELECT extract(epoch FROM clock_timestamp()); COMMIT;\n"
	  . "SELECT extract(epoch FROM clock_timestamp());");
my ($result, $returned_at) = waiter_output($waiter);
is($result, '{"done": true}', 'await_result returns the result of the completed run');
# The commit ends somewhere between the two clock readings; the flush of
# its WAL is in that span and can be long on a busy disk, so the delay is
# measured from its end.  The bound is a generous one (a test must not time
# a loaded machine): what it rules out is a waiter that only wakes up by
# polling or at its 60 s timeout.  The figure itself is printed.
my $delay_ms = ($returned_at - $after_commit) * 1000;
diag(sprintf('await_result returned %.1f ms after the closing commit returned '
	  . '(%.1f ms after it began)', $delay_ms, ($returned_at - $before_commit) * 1000));
ok($delay_ms < 1000, 'within a second of the closing commit');
$waiter->quit;

is($node->safe_psql($db, q{SELECT workflow.await_result('wf-a')}), '{"done": true}',
	'a closed run: the result at once');

# --------------------------------------------- continue-as-new is followed
$node->safe_psql($db, q{SELECT workflow.start_workflow('looping', '{"n": 0}', 'wf-c')});
($waiter, $pid) = start_waiter('wf-c');
$task = claim('wf-c');
$node->safe_psql($db, "SELECT workflow.complete_activity($task, '{}')");
is($node->safe_psql($db, q{SELECT count(*) FROM workflow.workflows WHERE workflow_id = 'wf-c' AND status = 'continued_as_new'}),
	'1', 'the first run continued as new');
usleep(200_000);
ok(still_waiting($waiter), 'the waiter waits on for the next run');
$task = claim('wf-c');
$node->safe_psql($db, "SELECT workflow.complete_activity($task, '{}')");
($result) = waiter_output($waiter);
is($result, '{"n": 1}', 'and returns the result of the run that completed');
$waiter->quit;

# --------------------------------------------- a reset is followed too
$node->safe_psql($db, q{SELECT workflow.start_workflow('one_step', '{"v": 2}', 'wf-r')});
($waiter, $pid) = start_waiter('wf-r');
$node->safe_psql($db, q{SELECT workflow.reset_workflow('wf-r', 1, 'operator')});
usleep(200_000);
ok(still_waiting($waiter), 'a reset: the waiter waits on for the new run');
$task = claim('wf-r');
$node->safe_psql($db, "SELECT workflow.complete_activity($task, '{\"after\": \"reset\"}')");
($result) = waiter_output($waiter);
is($result, '{"after": "reset"}', 'and returns the result of the run that replaced it');
$waiter->quit;

# --------------------------------------------- WF013: failed, terminated
$node->safe_psql($db, q{SELECT workflow.start_workflow('one_step', '{}', 'wf-f')});
($waiter, $pid) = start_waiter('wf-f');
$task = claim('wf-f');
$node->safe_psql($db, "SELECT workflow.fail_activity($task, 'out of stock', false)");
my $err;
($result, $err) = waiter_output($waiter);
like($err, qr/WF013.*workflow "wf-f" did not complete: its run ended with status "failed"/,
	'a failed run raises WF013 naming its status');
like($err, qr/out of stock/, 'with its error in the detail');
$waiter->quit;

$node->safe_psql($db, q{SELECT workflow.start_workflow('one_step', '{}', 'wf-t')});
($waiter, $pid) = start_waiter('wf-t');
$node->safe_psql($db, q{SELECT workflow.terminate_workflow('wf-t', 'by the operator')});
($result, $err) = waiter_output($waiter);
like($err, qr/WF013.*status "terminated"/, 'a terminated run raises WF013 naming its status');
$waiter->quit;

# --------------------------------------------- many waiters, one closing commit
my @many = map { "wf-m$_" } 1 .. 8;
$node->safe_psql($db, join('', map { "SELECT workflow.start_workflow('one_step', '{}', '$_');\n" } @many));
my @waiters = map { [ start_waiter($_) ] } @many;
$node->safe_psql($db, "BEGIN;\n"
	  . join('', map { "SELECT workflow.terminate_workflow('$_');\n" } @many) . "COMMIT;");
my $woken = 0;
for my $w (@waiters)
{
	($result, $err) = waiter_output($w->[0]);
	$woken++ if defined $err && $err =~ /WF013.*status "terminated"/;
	$w->[0]->quit;
}
is($woken, scalar(@many), 'one commit closing 8 awaited runs wakes each of their 8 waiters');

# --------------------------------------------- timeout, cancel, statement_timeout
$node->safe_psql($db, q{SELECT workflow.start_workflow('one_step', '{}', 'wf-x')});
my $t0 = time();
is($node->safe_psql($db, q{SELECT workflow.await_result('wf-x', '300 ms') IS NULL}), 't',
	'NULL on timeout');
my $waited = time() - $t0;
ok($waited >= 0.3, sprintf('after the timeout (%.2f s)', $waited));

($waiter, $pid) = start_waiter('wf-x');
$node->safe_psql($db, "SELECT pg_cancel_backend($pid)");
($result, $err) = waiter_output($waiter);
like($err, qr/57014.*canceling statement due to user request/, 'pg_cancel_backend stops it');
my ($out, $ret) = $waiter->query('SELECT 1');
is($out, '1', 'and the session goes on');
$waiter->quit;

my ($rc, $stdout, $stderr) = $node->psql($db,
	q{SET statement_timeout = '300ms'; SELECT workflow.await_result('wf-x')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/57014.*statement timeout/, 'statement_timeout stops it');

($rc, $stdout, $stderr) = $node->psql($db,
	q{BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT workflow.await_result('wf-x', '1 s')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/25000.*cannot wait inside a REPEATABLE READ/, 'refused inside REPEATABLE READ');

($rc, $stdout, $stderr) = $node->psql($db, q{SELECT workflow.await_result('no-such')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/42704/, 'an unknown id: 42704');

# After all that, nobody is counted as waiting: a close wakes no one, and
# the run still closes normally.
$node->safe_psql($db, q{SELECT workflow.terminate_workflow('wf-x')});
is($node->safe_psql($db, q{SELECT status FROM workflow.workflows WHERE workflow_id = 'wf-x'}),
	'terminated', 'closing a run nobody awaits works as before');

# --------------------------------------------- retry_now after a code fix, end to end
# A failed workflow task would be retried in an hour; after the fix,
# retry_now makes it due at once and the scheduler (woken at commit) runs
# it: await_result sees the run complete.
$node->append_conf('postgresql.conf', "workflow.task_retry_initial = '1h'\nworkflow.task_retry_max = '1h'\n");
$node->reload;
ok(poll($node, $db, 'SHOW workflow.task_retry_max', '1h'), 'workflow task retries back off for an hour');
$node->safe_psql($db, q{
CREATE FUNCTION fixme(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN to_jsonb(1 / 0);
END $$;
SELECT workflow.register_workflow('fixme', 'fixme(jsonb)');
SELECT workflow.start_workflow('fixme', '{}', 'wf-fix');
});
is($node->safe_psql($db, q{SELECT task_retry_at > now() + interval '50 minutes' FROM workflow.workflows WHERE workflow_id = 'wf-fix'}),
	't', 'the failed workflow task is retried in an hour');
$node->safe_psql($db, q{
CREATE OR REPLACE FUNCTION fixme(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN '{"fixed": true}';
END $$;
});
is($node->safe_psql($db, q{SELECT workflow.retry_now('wf-fix')}), '1', 'retry_now after the fix: 1 item');
$t0 = time();
is($node->safe_psql($db, q{SELECT workflow.await_result('wf-fix', '20 s')}), '{"fixed": true}',
	'the scheduler retried it at once and the run completed');
diag(sprintf('completed %.2f s after retry_now', time() - $t0));

$node->stop;
done_testing();
