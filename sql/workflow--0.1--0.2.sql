/* workflow--0.1--0.2.sql: from 0.1 to 0.2 (ALTER EXTENSION workflow UPDATE) */

\echo Use "ALTER EXTENSION workflow UPDATE TO '0.2'" to load this file. \quit

/* Administrative functions: not for PUBLIC; GRANT EXECUTE delegates them. */
REVOKE EXECUTE ON FUNCTION workflow.tick(timestamptz), workflow.skip_time(interval),
	workflow.grant_queue(text, pg_catalog.regrole), workflow.revoke_queue(text, pg_catalog.regrole)
	FROM PUBLIC;
