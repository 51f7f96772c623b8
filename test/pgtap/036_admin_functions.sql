-- Administrative functions (tick, skip_time, grant_queue, revoke_queue)
-- are not for PUBLIC; GRANT EXECUTE delegates them, and a delegate of
-- grant_queue hands out only the queues it may work itself.
BEGIN;
SELECT plan(21);

CREATE ROLE app_test;
CREATE ROLE wf_helper;
CREATE SCHEMA app AUTHORIZATION app_test;

SELECT ok(NOT has_function_privilege('public', 'workflow.tick(timestamptz)', 'EXECUTE'),
		  'PUBLIC may not execute tick()');
SELECT ok(NOT has_function_privilege('public', 'workflow.skip_time(interval)', 'EXECUTE'),
		  'nor skip_time()');
SELECT ok(NOT has_function_privilege('public', 'workflow.grant_queue(text, regrole, text)', 'EXECUTE'),
		  'nor grant_queue()');
SELECT ok(NOT has_function_privilege('public', 'workflow.revoke_queue(text, regrole, text)', 'EXECUTE'),
		  'nor revoke_queue()');

SET ROLE app_test;
SELECT throws_ok($$SELECT workflow.tick()$$, '42501', NULL, 'an ungranted role cannot tick');
SELECT throws_ok($$SELECT workflow.skip_time('1 day')$$, '42501', NULL, 'nor skip time');
SELECT throws_ok($$SELECT workflow.grant_queue('q', 'app_test')$$, '42501', NULL, 'nor grant a queue');
SELECT throws_ok($$SELECT workflow.revoke_queue('q', 'app_test')$$, '42501', NULL, 'nor revoke one');
RESET ROLE;

GRANT EXECUTE ON FUNCTION workflow.tick(timestamptz), workflow.skip_time(interval) TO app_test;
SELECT workflow.grant_queue('default', 'app_test', 'produce');
SET ROLE app_test;
CREATE FUNCTION app.napper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN PERFORM workflow.sleep('1 hour'); RETURN '{"rested": true}'; END $$;
SELECT workflow.register_workflow('napper', 'app.napper(jsonb)');
SELECT workflow.start_workflow('napper', '{}', 'nap-1');
SELECT is(workflow.tick(), 0, 'granted EXECUTE, the role ticks');
SELECT is(workflow.tick(now() + interval '2 hours'), 1, 'and tick(at) fires a due timer');
SELECT is(status, 'completed', 'which completes its run') FROM workflow.workflows WHERE workflow_id = 'nap-1';
SELECT workflow.start_workflow('napper', '{}', 'nap-2');
SELECT cmp_ok(workflow.skip_time('1 day'), '>=', 1, 'granted EXECUTE, the role skips time');
SELECT is(status, 'completed', 'and the other run completes') FROM workflow.workflows WHERE workflow_id = 'nap-2';
RESET ROLE;

GRANT EXECUTE ON FUNCTION workflow.grant_queue(text, regrole, text), workflow.revoke_queue(text, regrole, text)
	TO app_test;
SET ROLE app_test;
SELECT throws_ok($$SELECT workflow.grant_queue('q', 'wf_helper')$$, '42501', NULL,
				 'a delegate cannot grant a queue it may not work itself');
RESET ROLE;
SELECT workflow.grant_queue('q', 'app_test');
SET ROLE app_test;
SELECT lives_ok($$SELECT workflow.grant_queue('q', 'wf_helper')$$, 'a delegate grants a queue it may work');
SELECT throws_ok($$SELECT workflow.grant_queue('other', 'wf_helper')$$, '42501', NULL, 'but no other queue');
SELECT throws_ok($$SELECT workflow.grant_queue('*', 'wf_helper')$$, '42501', NULL, 'nor every queue');
SELECT throws_ok($$SELECT workflow.revoke_queue('other', 'wf_helper')$$, '42501', NULL,
				 'nor revokes another queue');
SELECT lives_ok($$SELECT workflow.revoke_queue('q', 'wf_helper')$$, 'and revokes the queue it may work');
RESET ROLE;
SELECT is((SELECT count(*) FROM workflow.queue_grants WHERE grantee = 'wf_helper'::regrole), 0::bigint,
		  'the grant is gone');

-- An install updated from 0.1 has the same privileges.
DROP EXTENSION workflow;
CREATE EXTENSION workflow VERSION '0.1';
ALTER EXTENSION workflow UPDATE TO '0.2';
SELECT ok(NOT has_function_privilege('public', 'workflow.tick(timestamptz)', 'EXECUTE')
		  AND NOT has_function_privilege('public', 'workflow.skip_time(interval)', 'EXECUTE')
		  AND NOT has_function_privilege('public', 'workflow.grant_queue(text, regrole, text)', 'EXECUTE')
		  AND NOT has_function_privilege('public', 'workflow.revoke_queue(text, regrole, text)', 'EXECUTE'),
		  'after ALTER EXTENSION UPDATE from 0.1, PUBLIC may not execute them either');

SELECT * FROM finish();
ROLLBACK;
