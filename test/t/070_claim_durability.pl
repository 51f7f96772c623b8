# A claim makes its transaction commit asynchronously only if the
# transaction wrote nothing else: a worker that claims, then writes a row
# of its own in the same transaction, gets a durable COMMIT (issue 10,
# item 15).  The WAL writer is slowed down so that an asynchronous commit
# stays unflushed until the immediate shutdown: a long delay, and a large
# wal_writer_flush_after, since with 0 every asynchronous commit wakes the
# WAL writer to flush everything at once (XLogSetAsyncXactLSN).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WorkflowTest;

my $node = new_node('claim_durability', extra_conf => qq{
wal_writer_delay = 10000
wal_writer_flush_after = '1GB'
});
my $db = 'postgres';
$node->safe_psql($db, q{
CREATE EXTENSION workflow;
CREATE TABLE app_rows (note text);
CREATE FUNCTION one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Act', '{}', 'dq');
END $$;
SELECT workflow.register_workflow('one', 'one(jsonb)');
SELECT workflow.start_workflow('one', '{}', 'd1');
SELECT workflow.start_workflow('one', '{}', 'd2');
CHECKPOINT;
});

# A claim alone still commits asynchronously (nothing but the claim to lose).
is( $node->safe_psql(
		$db, q{
SET workflow.session_leases = off;
BEGIN;
SELECT count(*) FROM workflow.claim_activities('dq', 'w', 1);
COMMIT;
SELECT pg_current_wal_flush_lsn() < pg_current_wal_insert_lsn();
}), "1\nt", 'a transaction that only claims commits asynchronously');

# Claim, write a row of our own, commit, crash at once.
$node->safe_psql(
	$db, q{
SET workflow.session_leases = off;
BEGIN;
SELECT count(*) FROM workflow.claim_activities('dq', 'w', 1);
INSERT INTO app_rows VALUES ('written after a claim');
COMMIT;
});
$node->stop('immediate');
$node->start;
is($node->safe_psql($db, 'SELECT count(*) FROM app_rows'), '1',
	'the row written after the claim survives a crash right after COMMIT');

$node->stop;
done_testing();
