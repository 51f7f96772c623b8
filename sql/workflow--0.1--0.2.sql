/* workflow--0.1--0.2.sql: from 0.1 to 0.2 (ALTER EXTENSION workflow UPDATE) */

\echo Use "ALTER EXTENSION workflow UPDATE TO '0.2'" to load this file. \quit

/*
 * 0.1 accepted an empty schema "workflow" created by any role; its owner
 * could rename it and plant look-alike tables.  The library now refuses
 * to work with a schema not owned by the extension's owner: say so here,
 * where it can be fixed.
 */
DO $guard$
DECLARE
	schema_owner text;
BEGIN
	SELECT pg_catalog.pg_get_userbyid(n.nspowner) INTO schema_owner
	  FROM pg_catalog.pg_extension e
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
	 WHERE e.extname OPERATOR(pg_catalog.=) 'workflow'
	   AND n.nspowner OPERATOR(pg_catalog.<>) e.extowner;
	IF FOUND THEN
		RAISE EXCEPTION 'schema "workflow" is owned by role "%", not by the owner of extension "workflow"', schema_owner
			USING ERRCODE = '55000',
				  DETAIL = 'That role could rename the schema and plant tables the engine would use.',
				  HINT = 'Check the schema for objects you did not create, make the extension''s owner its owner (ALTER SCHEMA workflow OWNER TO ...), then update again.';
	END IF;
END
$guard$;

/* Administrative functions: not for PUBLIC; GRANT EXECUTE delegates them. */
REVOKE EXECUTE ON FUNCTION workflow.tick(timestamptz), workflow.skip_time(interval),
	workflow.grant_queue(text, pg_catalog.regrole), workflow.revoke_queue(text, pg_catalog.regrole)
	FROM PUBLIC;
