# WorkflowTest.pm: helpers shared by the Perl TAP tests of the workflow
# extension (test/t/*.pl).  They run under PGXS: make installcheck (or make
# prove_installcheck) runs prove with -I test/t and the server's bindir
# first on PATH, as an unprivileged user; make test does so as wfpg.
#
# - new_node:        a PostgreSQL::Test::Cluster with the library preloaded
# - poll:            run a query until it returns the expected value, with a
#                    timeout in seconds (fails the test with the last output)
# - start_worker:    an activity worker: a background psql running a PL/pgSQL
#                    DO loop that claims (commit), "works", completes (commit)
# - stop_workers:    ask the workers to stop, and reap them
# - claim_one:       claim one task of a queue, waiting for one to appear
# - history_problems: integrity checks of workflow.history, as a list of
#                    "what is wrong" strings (empty when all is well)
#
# The workers record every completion they made, in the same transaction
# as complete_activity, in wf_test.done: a completion that committed has
# exactly one row there.
package WorkflowTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(new_node poll wait_for_server setup_worker_schema
  start_worker stop_workers reap_workers claim_one history_problems
  scheduler_pids elapsed_since);

# A node with the workflow library preloaded and short naptimes.  Options:
# allows_streaming => 1 (for a standby), extra_conf => "...", start => 0,
# install_path => the PostgreSQL installation to run (default: PATH's).
sub new_node
{
	my ($name, %opts) = @_;
	my $preload = $ENV{WF_PRELOAD} // 'workflow';
	plan skip_all => 'needs shared_preload_libraries = workflow (WF_PRELOAD is empty)'
	  if $preload eq '';

	my $node = PostgreSQL::Test::Cluster->new($name,
		$opts{install_path} ? (install_path => $opts{install_path}) : ());
	$node->init($opts{allows_streaming} ? (allows_streaming => 1) : ());
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = '$preload'
restart_after_crash = on
workflow.max_naptime = 1000
workflow.launcher_naptime = 500
max_worker_processes = 16
log_line_prefix = '%m [%p] %b %d '
log_min_messages = info
} . ($opts{extra_conf} // ''));
	$node->start unless defined $opts{start} && !$opts{start};
	return $node;
}

# Run $query until it returns $expected (default 't'); give up after
# $timeout seconds (default 30).  Returns 1 or 0; on timeout says why.
sub poll
{
	my ($node, $db, $query, $expected, $timeout) = @_;
	$expected //= 't';
	$timeout //= 30;
	my $deadline = time() + $timeout;
	my ($rc, $out, $err);
	while (1)
	{
		($rc, $out, $err) = $node->psql($db, $query);
		return 1 if defined $out && $out eq $expected && $rc == 0;
		last if time() > $deadline;
		usleep(100_000);
	}
	diag("poll timed out after ${timeout}s:\n$query\nexpected: $expected\n"
		  . "last output: " . ($out // '') . "\nlast error: " . ($err // ''));
	return 0;
}

# Wait until the server accepts connections again (after a crash restart).
sub wait_for_server
{
	my ($node, $timeout) = @_;
	return poll($node, 'postgres', 'SELECT true', 't', $timeout // 60);
}

# The pids of the running schedulers of a database (or of all, if undef).
sub scheduler_pids
{
	my ($node, $db) = @_;
	my $where = defined $db ? " AND datname = '$db'" : '';
	my $out = $node->safe_psql('postgres',
		"SELECT string_agg(pid::text, ' ' ORDER BY pid) FROM pg_stat_activity"
		  . " WHERE backend_type = 'workflow scheduler'$where");
	return grep { length } split / /, $out;
}

sub elapsed_since
{
	my ($t0) = @_;
	return sprintf('%.2f', time() - $t0);
}

# The workers' own tables: a stop flag and the log of their completions.
sub setup_worker_schema
{
	my ($node, $db) = @_;
	$node->safe_psql(
		$db, q{
CREATE SCHEMA wf_test;
CREATE TABLE wf_test.ctl (stop boolean NOT NULL);
INSERT INTO wf_test.ctl VALUES (false);
CREATE TABLE wf_test.done (
	task_id bigint NOT NULL,
	activity_id text NOT NULL,
	workflow_id text NOT NULL,
	activity text NOT NULL,
	attempt int NOT NULL,
	worker text NOT NULL,
	at timestamptz NOT NULL DEFAULT clock_timestamp());
});
	return;
}

# Start an activity worker: a background psql running a DO loop that
# claims up to batch tasks from each queue in turn (and commits the claim),
# sleeps work_ms per task, completes each with
#   {"activity": A, "n": input.n * 2, "attempt": K, "worker": W}
# (commits each), and ignores WF010 (late or duplicate report).  It stops
# when wf_test.ctl.stop is set, after max_seconds, or when its connection
# is lost.  Returns a handle for stop_workers / reap_workers.
sub start_worker
{
	my ($node, $db, %opts) = @_;
	my $name = $opts{name} // 'worker';
	my $queues = join(',', map { "'$_'" } @{ $opts{queues} // ['default'] });
	my $batch = $opts{batch} // 2;
	my $work = ($opts{work_ms} // 0) / 1000.0;
	my $max = $opts{max_seconds} // 120;
	my $sql = qq{
DO \$worker\$
DECLARE
	queues text[] := ARRAY[$queues];
	q text;
	ids bigint[];
	aids text[];
	wids text[];
	acts text[];
	inputs jsonb[];
	attempts int[];
	i int;
	got int;
	stale int := 0;
	done int := 0;
	started timestamptz := clock_timestamp();
BEGIN
	LOOP
		EXIT WHEN (SELECT stop FROM wf_test.ctl)
			OR clock_timestamp() > started + interval '$max seconds';
		got := 0;
		FOREACH q IN ARRAY queues LOOP
			SELECT array_agg(task_id ORDER BY task_id), array_agg(activity_id ORDER BY task_id),
				   array_agg(workflow_id ORDER BY task_id), array_agg(activity ORDER BY task_id),
				   array_agg(input ORDER BY task_id), array_agg(attempt ORDER BY task_id)
			  INTO ids, aids, wids, acts, inputs, attempts
			  FROM workflow.claim_activities(q, '$name', $batch);
			COMMIT;
			CONTINUE WHEN ids IS NULL;
			FOR i IN 1 .. array_length(ids, 1) LOOP
				got := got + 1;
				IF $work > 0 THEN
					PERFORM pg_sleep($work);
				END IF;
				BEGIN
					PERFORM workflow.complete_activity(ids[i],
						jsonb_build_object('activity', acts[i],
										   'n', coalesce((inputs[i]->>'n')::int, 0) * 2,
										   'attempt', attempts[i], 'worker', '$name'));
					INSERT INTO wf_test.done (task_id, activity_id, workflow_id, activity, attempt, worker)
						VALUES (ids[i], aids[i], wids[i], acts[i], attempts[i], '$name');
					done := done + 1;
				EXCEPTION WHEN SQLSTATE 'WF010' THEN
					stale := stale + 1;
				END;
				COMMIT;
			END LOOP;
		END LOOP;
		IF got = 0 THEN
			PERFORM pg_sleep(0.05);
			COMMIT;
		END IF;
	END LOOP;
	RAISE NOTICE 'worker $name: % completed, % stale reports', done, stale;
END
\$worker\$;
};
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr($db), '-c', $sql
		],
		'<', '/dev/null', '>', \$out, '2>', \$err);
	return { name => $name, h => $h, out => \$out, err => \$err };
}

# Set the stop flag and wait for the workers; returns how many ended well.
sub stop_workers
{
	my ($node, $db, @workers) = @_;
	$node->safe_psql($db, 'UPDATE wf_test.ctl SET stop = true');
	my $ok = reap_workers(@workers);
	$node->safe_psql($db, 'UPDATE wf_test.ctl SET stop = false');
	return $ok;
}

# Wait for workers to exit (their server is gone, or they were told to
# stop); returns how many exited with status 0.
sub reap_workers
{
	my (@workers) = @_;
	my $ok = 0;
	for my $w (@workers)
	{
		my $deadline = time() + 30;
		while ($w->{h}->pumpable && time() < $deadline)
		{
			$w->{h}->pump_nb;
			usleep(50_000);
		}
		$w->{h}->kill_kill if $w->{h}->pumpable;
		my $res = eval { $w->{h}->finish };
		$ok++ if $res;
		note("worker $w->{name}: " . ($res ? 'ok' : 'ended with an error') . "\n"
			  . ${ $w->{err} });
	}
	return $ok;
}

# Claim one task of $queue as $worker, waiting up to $timeout seconds for
# one to be ready.  Returns a hash (task_id, activity, attempt, input) or
# undef.  The claiming psql session ends at once: the claim is not bound to
# it (workflow.session_leases off), as a claim through a pooler is not, so
# that the caller can report from another session.
sub claim_one
{
	my ($node, $db, $queue, $worker, $timeout) = @_;
	my $deadline = time() + ($timeout // 30);
	while (time() < $deadline)
	{
		my $row = $node->safe_psql($db,
			"SET workflow.session_leases = off;"
			  . " SELECT task_id, activity, attempt, input FROM workflow.claim_activities('$queue', '$worker', 1)"
		);
		if ($row ne '')
		{
			my ($id, $act, $att, $in) = split /\|/, $row, 4;
			return { task_id => $id, activity => $act, attempt => $att, input => $in };
		}
		usleep(50_000);
	}
	diag("no task became claimable on queue $queue within ${timeout}s");
	return undef;
}

# Integrity of the whole history: returns a list of problems, each a line
# of text (empty list when the history is sound).  With check_reports => 1,
# also that each ActivityCompleted matches exactly one report that a
# start_worker worker made (all activities must then be done by them).
sub history_problems
{
	my ($node, $db, %opts) = @_;
	my %checks = (
		'event ids are not 1..N per run' => q{
			SELECT workflow_id || ' ' || run_id || ': ' || count(*) || ' events, ids ' || min(event_id) || '..' || max(event_id)
			  FROM workflow.history GROUP BY workflow_id, run_id
			HAVING min(event_id) <> 1 OR max(event_id) <> count(*) OR count(DISTINCT event_id) <> count(*)},
		'an event recorded twice for one seq' => q{
			SELECT workflow_id || ' seq ' || (data->>'seq') || ' ' || event_type || ' x' || count(*)
			  FROM workflow.history
			 WHERE event_type IN ('ActivityScheduled', 'ActivityCompleted', 'TimerStarted', 'TimerFired')
			   AND NOT coalesce((data->>'is_compensation')::boolean, false)
			 GROUP BY workflow_id, run_id, data->>'seq', event_type HAVING count(*) > 1},
		'an attempt started or ended twice' => q{
			SELECT workflow_id || ' seq ' || (data->>'seq') || ' attempt ' || (data->>'attempt') || ' ' || event_type
				   || CASE WHEN coalesce((data->>'is_compensation')::boolean, false) THEN ' (compensation)' ELSE '' END
				   || ' x' || count(*)
			  FROM workflow.history
			 WHERE event_type IN ('ActivityStarted', 'ActivityFailed', 'ActivityTimedOut')
			 GROUP BY workflow_id, run_id, data->>'seq', data->>'attempt', event_type,
					  coalesce((data->>'is_compensation')::boolean, false)
			HAVING count(*) > 1},
		'a run started or closed more than once' => q{
			SELECT workflow_id || ' ' || event_type || ' x' || count(*)
			  FROM workflow.history
			 WHERE event_type IN ('WorkflowStarted', 'WorkflowCompleted', 'WorkflowFailed')
			 GROUP BY workflow_id, run_id, event_type HAVING count(*) > 1},
		'a completed activity without exactly one successful report by a worker' => q{
			SELECT h.workflow_id || ' seq ' || (h.data->>'seq') || ': ' || count(d.*) || ' reports'
			  FROM workflow.history h
			  LEFT JOIN wf_test.done d ON d.task_id = (h.data->>'task_id')::bigint
			 WHERE h.event_type = 'ActivityCompleted'
			 GROUP BY h.workflow_id, h.run_id, h.data->>'seq' HAVING count(d.*) <> 1},
	);
	my @problems;
	for my $what (sort keys %checks)
	{
		next if $what =~ /successful report/ && !$opts{check_reports};
		my ($rc, $out, $err) = $node->psql($db, $checks{$what});
		if ($rc != 0)
		{
			push @problems, "$what: query failed: $err";
			next;
		}
		next if $out eq '';
		my @lines = split /\n/, $out;
		my $more = @lines > 5 ? ' ... (' . scalar(@lines) . ' in all)' : '';
		push @problems, "$what: " . join('; ', @lines[0 .. ($#lines < 4 ? $#lines : 4)]) . $more;
	}
	return @problems;
}

1;
