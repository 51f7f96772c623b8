-- Schedules follow their owner's role: DROP ROLE refuses while the role
-- owns one, REASSIGN OWNED gives them to the new owner, DROP OWNED deletes
-- them (the utility hook in bgw/launcher.c).
BEGIN;
SELECT plan(6);

CREATE ROLE wf_sched_a;
CREATE ROLE wf_sched_b;
SELECT workflow.grant_queue('*', 'wf_sched_a', 'produce');
SELECT workflow.grant_queue('*', 'wf_sched_b', 'produce');
CREATE FUNCTION noop(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
SET ROLE wf_sched_a;
SELECT workflow.register_workflow('noop', 'noop(jsonb)');
SELECT workflow.create_schedule('hourly-a', '@hourly', 'noop');
SELECT workflow.create_schedule('daily-a', '@daily', 'noop');
RESET ROLE;

SELECT throws_ok('DROP ROLE wf_sched_a', '2BP01',
				 'role "wf_sched_a" cannot be dropped because it owns workflow schedules',
				 'DROP ROLE refuses while the role owns schedules');
SELECT is((SELECT count(*) FROM workflow.schedules), 2::bigint, 'and changes nothing');

REASSIGN OWNED BY wf_sched_a TO wf_sched_b;
SELECT is((SELECT array_agg(DISTINCT owner::text) FROM workflow.schedules), ARRAY['wf_sched_b'],
		  'REASSIGN OWNED gives the schedules to the new owner');

SET ROLE wf_sched_b;
SELECT lives_ok($$SELECT workflow.pause_schedule('hourly-a', 'mine now')$$,
				'which may then change them');
RESET ROLE;

DROP OWNED BY wf_sched_b;
SELECT is((SELECT count(*) FROM workflow.schedules), 0::bigint, 'DROP OWNED deletes them');
SELECT lives_ok('DROP ROLE wf_sched_a', 'and the first role can be dropped');

SELECT * FROM finish();
ROLLBACK;
