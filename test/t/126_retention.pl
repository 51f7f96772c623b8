# Retention: workflow.purge() and the scheduler's deletion of closed runs.
#
# purge: bad input is refused and changes nothing; a role deletes only the
# runs it owns, the extension owner every role's; a run goes with its
# history, state, signals and timers; the family rule keeps a closed parent
# with an open child, and lets a closed child of an open parent go.  The
# scheduler: with the type option retention, closed runs past it disappear
# in batches of 500 (more than one batch here) while a type kept forever
# (retention 0) and open runs stay; workflow.retention applies to types
# without the option.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use WorkflowTest;

my $t_start = time();
my $node = new_node('retention');
my $db = 'postgres';

$node->safe_psql(
	$db, q{
CREATE EXTENSION workflow;
CREATE ROLE alice;
CREATE ROLE bob;
GRANT USAGE ON SCHEMA public TO alice, bob;
-- Closes at once, with published state.
CREATE FUNCTION quick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.set_state('k', input);
	RETURN input;
END $$;
-- Waits for a signal, then closes; leaves a timer while it waits.
CREATE FUNCTION waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.wait_signal('go', '1 hour');
END $$;
CREATE FUNCTION parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.child_workflow(input->>'child_type', input, input->>'child_id');
END $$;
GRANT EXECUTE ON FUNCTION quick(jsonb), waiter(jsonb), parent(jsonb) TO alice, bob;
SELECT workflow.grant_queue('default', 'alice', 'produce');
SELECT workflow.grant_queue('default', 'bob', 'produce');
SELECT workflow.register_workflow('quick', 'quick(jsonb)');
SELECT workflow.register_workflow('waiter', 'waiter(jsonb)');
SELECT workflow.register_workflow('parent', 'parent(jsonb)');
});

sub sql { return $node->safe_psql($db, $_[0]); }

sub err
{
	my ($sql) = @_;
	my ($rc, $out, $stderr) = $node->psql($db, $sql, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return $rc == 0 ? '' : $stderr;
}

# ------------------------------------------------------------ bad input
sql(q{SELECT workflow.start_workflow('quick', '{"n": 0}', 'keep-me')});
like(err(q{SELECT workflow.purge(NULL)}), qr/22004.*older_than must not be null/s, 'purge(NULL) is refused');
like(err(q{SELECT workflow.purge('-1 day')}), qr/22023.*older_than must not be negative/s,
	'a negative interval is refused');
like( err(q{SELECT workflow.register_workflow('bad', 'quick(jsonb)', '{"retention": "-1 hour"}')}),
	qr/retention must not be negative/, 'a negative type option retention is refused');
like( err(q{SELECT workflow.register_workflow('bad', 'quick(jsonb)', '{"retention": "soon"}')}),
	qr/invalid interval "soon" for retention/, 'so is one that is no interval');
is(sql(q{SELECT count(*) FROM workflow.workflows}), '1', 'and nothing was deleted');

# ------------------------------------------------------------ owner rule
sql(  q{SET ROLE alice; SELECT count(workflow.start_workflow('quick', jsonb_build_object('i', i), 'a-' || i))}
	  . q{ FROM generate_series(1, 3) i});
sql(  q{SET ROLE bob; SELECT count(workflow.start_workflow('quick', jsonb_build_object('i', i), 'b-' || i))}
	  . q{ FROM generate_series(1, 2) i});
is(sql(q{SET ROLE bob; SELECT workflow.purge('0')}), '2', "bob's purge deletes bob's two closed runs");
is( sql(q{SELECT string_agg(workflow_id, ',' ORDER BY workflow_id) FROM workflow.workflows}),
	'a-1,a-2,a-3,keep-me', "alice's runs (and the owner's) are untouched");
is(sql(q{SELECT count(*) FROM workflow.history WHERE workflow_id LIKE 'b-%'}), '0', "bob's history is gone");
is(sql(q{SELECT count(*) FROM workflow.state WHERE workflow_id LIKE 'b-%'}), '0', 'so is his runs\' state');
is(sql(q{SET ROLE alice; SELECT workflow.purge('1 hour')}), '0', 'runs closed within older_than are kept');

# ----------------------------------------------- what goes with a run
sql(q{SELECT workflow.start_workflow('waiter', '{}', 'sig')});
sql(q{SELECT workflow.signal_workflow('sig', 'go', '{"v": 1}')});
ok(poll($node, $db, q{SELECT status FROM workflow.workflows WHERE workflow_id = 'sig'}, 'completed'),
	'a run that waited for a signal (and a timer) closed');

# ---------------------------------------------------------- family rule
sql(q{SELECT workflow.start_workflow('parent', '{"child_type": "quick", "child_id": "kid-done"}', 'p-open')});
ok(poll($node, $db, q{SELECT status FROM workflow.workflows WHERE workflow_id = 'p-open'}, 'completed'),
	'a parent whose child closed has closed too');
sql(q{SELECT workflow.start_workflow('parent', '{"child_type": "waiter", "child_id": "kid-open"}', 'p-waits')});
ok( poll($node, $db,
		q{SELECT status FROM workflow.workflows WHERE workflow_id = 'kid-open'}, 'running'),
	'a parent waits for its open child');

is(sql(q{SELECT workflow.purge('0')}), '7', 'the extension owner purges every role\'s closed runs');
is( sql(q{SELECT string_agg(workflow_id || ' ' || status, ',' ORDER BY workflow_id) FROM workflow.workflows}),
	'kid-open running,p-waits running', 'only the open parent and its open child are left');
is( sql(  q{SELECT (SELECT count(*) FROM workflow.history WHERE workflow_id NOT IN ('kid-open', 'p-waits'))}
		  . q{ + (SELECT count(*) FROM workflow.signals) + (SELECT count(*) FROM workflow.state)}
		  . q{ + (SELECT count(*) FROM workflow.timers WHERE workflow_id NOT IN ('kid-open', 'p-waits'))}),
	'0', 'no history, signal, state or timer of a deleted run is left');

# A closed parent with an open child is kept; a closed child of an open parent goes.
sql(q{SELECT workflow.start_workflow('parent', '{"child_type": "waiter", "child_id": "kid2"}', 'p-term')});
ok(poll($node, $db, q{SELECT status FROM workflow.workflows WHERE workflow_id = 'kid2'}, 'running'),
	'another parent waits for its child');
sql(q{SELECT workflow.signal_workflow('kid-open', 'go', '{}')});
ok(poll($node, $db, q{SELECT status FROM workflow.workflows WHERE workflow_id = 'p-waits'}, 'completed'),
	'the first parent completed after its child');
sql(q{UPDATE workflow.workflows SET closed_at = closed_at - interval '1 day' WHERE closed_at IS NOT NULL});
is(sql(q{SELECT workflow.purge('1 hour')}), '2', 'the closed parent and child are deleted');

# ---------------------------------------------- the scheduler, in batches
sql(q{SELECT workflow.register_workflow('kept', 'quick(jsonb)', '{"retention": "0"}')});
sql(q{SELECT workflow.register_workflow('short', 'quick(jsonb)', '{"retention": "2 seconds"}')});
sql(q{SELECT count(workflow.start_workflow('short', jsonb_build_object('i', i))) FROM generate_series(1, 1200) i});
sql(q{SELECT count(workflow.start_workflow('kept', jsonb_build_object('i', i))) FROM generate_series(1, 5) i});
sql(q{SELECT count(workflow.start_workflow('quick', jsonb_build_object('i', i))) FROM generate_series(1, 5) i});
is(sql(q{SELECT count(*) FROM workflow.workflows WHERE workflow_type = 'short' AND closed_at IS NOT NULL}),
	'1200', '1200 closed runs of a type with retention 2 seconds');
ok( poll($node, $db, q{SELECT count(*) FROM workflow.workflows WHERE workflow_type = 'short'}, '0', 30),
	'the scheduler deleted them all');
is(sql(q{SELECT count(*) FROM workflow.history h WHERE NOT EXISTS (SELECT FROM workflow.workflows w}
	  . q{ WHERE w.workflow_id = h.workflow_id AND w.run_id = h.run_id)}), '0', 'with their history');
my $log = slurp_file($node->logfile);
is( sql(q{SELECT count(*) || ' ' || count(*) FILTER (WHERE closed_at IS NOT NULL) FROM workflow.workflows}),
	'12 10', 'the runs of a type kept forever, of a type without retention, and the open ones stay');

# workflow.retention for types without the option; retention 0 still keeps.
$node->append_conf('postgresql.conf', "workflow.retention = '1s'");
$node->reload;
ok( poll($node, $db, q{SELECT string_agg(workflow_type || ' ' || status, ',' ORDER BY workflow_type, workflow_id)
	FROM workflow.workflows}, 'kept completed,kept completed,kept completed,kept completed,kept completed,parent running,waiter running', 30),
	'workflow.retention deleted the closed runs of the types without the option, not the open ones');
unlike($log, qr/deleting closed runs failed/, 'no batch failed');

$node->stop;
note('run time: ' . elapsed_since($t_start) . ' s');
done_testing();
