-- A transaction that only claims commits asynchronously (a lost claim is
-- claimed again); one that wrote before keeps synchronous commit.
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
DROP TABLE app_writes;
DROP EXTENSION workflow;
