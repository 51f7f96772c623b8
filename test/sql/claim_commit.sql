-- A transaction that only claims commits asynchronously (a lost claim is
-- claimed again); one that wrote before, or writes after its claim, keeps
-- synchronous commit.  The choice is made at commit, from what the
-- transaction wrote: the setting is not changed while it runs.
CREATE EXTENSION workflow;
BEGIN;
SELECT count(*) FROM workflow.claim_activities('q');
SHOW synchronous_commit;
COMMIT;
SHOW synchronous_commit;
CREATE TABLE app_writes (i int);
BEGIN;
INSERT INTO app_writes VALUES (1);
SELECT count(*) FROM workflow.claim_activities('q');
SHOW synchronous_commit;
COMMIT;
-- a write after the claim: the commit waits for its WAL to be flushed
BEGIN;
SELECT count(*) FROM workflow.claim_activities('q');
INSERT INTO app_writes VALUES (2);
SELECT pg_current_wal_insert_lsn() AS written \gset
COMMIT;
SELECT pg_current_wal_flush_lsn() >= :'written' AS flushed_at_commit;
DROP TABLE app_writes;
DROP EXTENSION workflow;
