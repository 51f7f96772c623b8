-- workflow.reset_workflow: the seed saga whose CreateShipment failed for
-- good, reset to the event after ChargePayment completed with the
-- shipment "fixed", completes; the kept prefix; the old run terminated;
-- refused points (listing the valid ones), roles and bad input; signals
-- re-applied; reset of a closed run to 1; a reset child keeps its parent;
-- a reset parent's open child is terminated and started again.
BEGIN;
SELECT plan(45);

CREATE ROLE wf_reset_owner;
CREATE ROLE wf_reset_other;
SELECT workflow.grant_queue('*', 'wf_reset_owner', 'produce');
GRANT USAGE ON SCHEMA public TO wf_reset_owner;

-- The test plays the worker: claim one task, complete or fail it.
CREATE FUNCTION work(q text, fail_with text DEFAULT NULL, retryable boolean DEFAULT true)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
	SELECT * INTO t FROM workflow.claim_activities(q, 'w', 1);
	IF t.task_id IS NULL THEN RETURN NULL; END IF;
	IF fail_with IS NULL THEN
		PERFORM workflow.complete_activity(t.task_id, jsonb_build_object(lower(t.activity), 'ok-' || t.attempt));
	ELSE
		PERFORM workflow.fail_activity(t.task_id, fail_with, retryable);
	END IF;
	RETURN t.activity;
END $$;
CREATE FUNCTION run_of(wf text, st text) RETURNS uuid LANGUAGE sql AS $$
	SELECT run_id FROM workflow.workflows WHERE workflow_id = wf AND status = st
	 ORDER BY created_at DESC LIMIT 1
$$;
CREATE FUNCTION open_run(wf text) RETURNS uuid LANGUAGE sql AS $$
	SELECT run_id FROM workflow.workflows WHERE workflow_id = wf AND closed_at IS NULL
$$;
CREATE FUNCTION event_of(wf text, typ text, act text) RETURNS bigint LANGUAGE sql AS $$
	SELECT event_id FROM workflow.history h JOIN workflow.workflows w USING (workflow_id, run_id)
	 WHERE h.workflow_id = wf AND w.closed_at IS NULL AND event_type = typ AND data->>'activity' = act
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO wf_reset_owner;

CREATE FUNCTION order_saga(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb := input;
BEGIN
	r := r || workflow.activity('ReserveInventory', r, 'inventory', '{}', 'ReleaseInventory');
	r := r || workflow.activity('ChargePayment', r, 'payments', '{}', 'RefundPayment');
	r := r || workflow.activity('CreateShipment', r, 'shipping', '{"retry": {"maximum_attempts": 2}}');
	r := r || workflow.activity('SendConfirmation', r, 'notifications');
	RETURN r;
END $$;
ALTER FUNCTION order_saga(jsonb) OWNER TO wf_reset_owner;

SET ROLE wf_reset_owner;
SELECT workflow.register_workflow('order', 'order_saga(jsonb)');
SELECT workflow.start_workflow('order', '{"order": 1}', 'order-1');
RESET ROLE;

SELECT is(work('inventory'), 'ReserveInventory', 'inventory reserved');
SELECT is(work('payments'), 'ChargePayment', 'payment charged');
-- Where ChargePayment completed: the point to reset to.
SELECT event_of('order-1', 'ActivityCompleted', 'ChargePayment') AS point,
	   open_run('order-1') AS old_run \gset
SELECT is(work('shipping', 'CarrierDown'), 'CreateShipment', 'shipment attempt 1 fails');
SELECT workflow.tick(now() + interval '1 second');
SELECT is(work('shipping', 'CarrierDown'), 'CreateShipment', 'shipment attempt 2 fails for good');
SELECT is(status, 'compensating', 'the run compensates')
  FROM workflow.workflows WHERE workflow_id = 'order-1';
SELECT event_id AS final_failure FROM workflow.history
 WHERE workflow_id = 'order-1' AND event_type = 'ActivityFailed' AND data @> '{"final": true}' \gset

-- Refused: not a result boundary, out of range, NULL, unknown id, another role.
SET ROLE wf_reset_owner;
SELECT throws_like($$SELECT workflow.reset_workflow('order-1', 2)$$,
				   'event 2 of workflow "order-1" is not a reset point',
				   'an ActivityScheduled is not a reset point');
RESET ROLE;
CREATE FUNCTION reset_error_detail(wf text, ev bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text; s text;
BEGIN
	PERFORM workflow.reset_workflow(wf, ev);
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, s = RETURNED_SQLSTATE;
	RETURN s || ': ' || d;
END $$;
SELECT is(reset_error_detail('order-1', 2),
		  'WF014: The valid reset points are 1, 4, ' || :point || ', ' || :final_failure || '.',
		  'the refusal lists the valid points: the start, the completions, the final failure');
SELECT is(reset_error_detail('order-1', 9999),
		  'WF014: Its latest run has events 1 to ' ||
			(SELECT max(event_id) FROM workflow.history WHERE workflow_id = 'order-1') ||
			'; the valid reset points are 1, 4, ' || :point || ', ' || :final_failure || '.',
		  'an event past the end is refused, with the valid points');
SELECT throws_ok($$SELECT workflow.reset_workflow('order-1', 0)$$, 'WF014', NULL, 'event 0 is refused');
SELECT throws_ok($$SELECT workflow.reset_workflow('order-1', NULL)$$, '22004', NULL, 'a NULL event_id is refused');
SELECT throws_ok($$SELECT workflow.reset_workflow(NULL, 1)$$, '22004', NULL, 'a NULL workflow_id is refused');
SELECT throws_ok($$SELECT workflow.reset_workflow('no-such-order', 1)$$, '42704',
				 'workflow "no-such-order" does not exist', 'an unknown workflow_id is refused');
SET ROLE wf_reset_other;
SELECT throws_ok($$SELECT workflow.reset_workflow('order-1', 1)$$, '42501', NULL,
				 'another role may not reset the run');
RESET ROLE;
SELECT is(status, 'compensating', 'the refusals changed nothing')
  FROM workflow.workflows WHERE workflow_id = 'order-1';

-- CreateShipment is "fixed" (the worker now succeeds); reset to after ChargePayment.
SET ROLE wf_reset_owner;
SELECT workflow.reset_workflow('order-1', :point, 'carrier fixed') AS new_run \gset
RESET ROLE;
SELECT is((SELECT status FROM workflow.workflows WHERE run_id = :'old_run'::uuid),
		  'terminated', 'the old run is terminated');
SELECT matches((SELECT data->>'reason' FROM workflow.history
				 WHERE run_id = :'old_run'::uuid AND event_type = 'WorkflowTerminated'),
			   '^reset to event \d+ by wf_reset_owner: new run [0-9a-f-]+: carrier fixed$',
			   'its WorkflowTerminated reason names the reset');
SELECT is((SELECT count(*) FROM workflow.tasks WHERE run_id = :'old_run'::uuid), 0::bigint,
		  'the old run''s pending compensation task is withdrawn');
SELECT is(open_run('order-1'), :'new_run'::uuid, 'the new run is the open run');
SELECT is((SELECT status FROM workflow.workflows WHERE run_id = :'new_run'::uuid), 'running',
		  'and it runs');
SELECT is((SELECT array_agg(event_type || ':' || data::text ORDER BY event_id) FROM workflow.history
			WHERE run_id = :'new_run'::uuid AND event_id BETWEEN 2 AND :point),
		  (SELECT array_agg(event_type || ':' || data::text ORDER BY event_id) FROM workflow.history
			WHERE run_id = :'old_run'::uuid AND event_id BETWEEN 2 AND :point),
		  'the new run''s history starts with the kept prefix: same event types and data');
SELECT is((SELECT data->'reset_from' FROM workflow.history
			WHERE run_id = :'new_run'::uuid AND event_id = 1 AND event_type = 'WorkflowStarted'),
		  jsonb_build_object('run_id', :'old_run'::uuid, 'event_id', :point),
		  'its WorkflowStarted carries reset_from {run_id, event_id}');
SELECT is((SELECT data - 'reset_from' FROM workflow.history
			WHERE run_id = :'new_run'::uuid AND event_id = 1),
		  (SELECT data FROM workflow.history WHERE run_id = :'old_run'::uuid AND event_id = 1),
		  'and otherwise the old run''s start data');
SELECT is((SELECT event_type || ':' || (data->>'activity') FROM workflow.history
			WHERE run_id = :'new_run'::uuid AND event_id = :point + 1),
		  'ActivityScheduled:CreateShipment', 'the replay schedules CreateShipment again');
SELECT is(work('payments'), NULL, 'ChargePayment is not run again');
SELECT is(work('shipping'), 'CreateShipment', 'the fixed CreateShipment succeeds');
SELECT is(work('notifications'), 'SendConfirmation', 'then SendConfirmation');
SELECT is((SELECT status FROM workflow.workflows WHERE run_id = :'new_run'::uuid), 'completed',
		  'the reset run completes');
SELECT is((SELECT result FROM workflow.workflows WHERE run_id = :'new_run'::uuid),
		  '{"order": 1, "chargepayment": "ok-1", "createshipment": "ok-1",
			"reserveinventory": "ok-1", "sendconfirmation": "ok-1"}'::jsonb,
		  'with the kept results of the first two steps');
SELECT is((SELECT count(*) FROM workflow.history WHERE run_id = :'new_run'::uuid
			AND data->>'activity' IN ('RefundPayment', 'ReleaseInventory')), 0::bigint,
		  'no compensation ran, in either run''s history after the reset');

-- A closed run reset to 1 runs again with its input ------------------------
SET ROLE wf_reset_owner;
SELECT workflow.start_workflow('order', '{"order": 2}', 'order-2');
RESET ROLE;
SELECT work('inventory'); SELECT work('payments', 'Declined', false);
SELECT work('inventory');
SELECT is((SELECT status FROM workflow.workflows WHERE workflow_id = 'order-2'), 'compensated',
		  'order-2 ended compensated');
SET ROLE wf_reset_owner;
SELECT isnt(workflow.reset_workflow('order-2', 1), NULL, 'a closed run can be reset to 1');
RESET ROLE;
SELECT is((SELECT string_agg(event_type, ' ' ORDER BY event_id) FROM workflow.history
			WHERE run_id = open_run('order-2')),
		  'WorkflowStarted ActivityScheduled', 'the new run starts over with its input');
SELECT is((SELECT input FROM workflow.workflows WHERE run_id = open_run('order-2')), '{"order": 2}'::jsonb,
		  'the same input');
SELECT is((SELECT count(*) FROM workflow.workflows WHERE workflow_id = 'order-2' AND status = 'compensated'),
		  1::bigint, 'the closed run is left as it was');

-- Signals received after the point are re-applied ---------------------------
CREATE FUNCTION signalled(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb; b jsonb;
BEGIN
	PERFORM workflow.activity('Prepare', '{}', 'prep');
	a := workflow.wait_signal('go');
	PERFORM workflow.activity('Use', jsonb_build_object('a', a), 'prep');
	b := workflow.wait_signal('go');
	RETURN jsonb_build_object('a', a, 'b', b);
END $$;
ALTER FUNCTION signalled(jsonb) OWNER TO wf_reset_owner;
SET ROLE wf_reset_owner;
SELECT workflow.register_workflow('signalled', 'signalled(jsonb)');
SELECT workflow.start_workflow('signalled', '{}', 'sig-1');
RESET ROLE;
SELECT work('prep');
SELECT event_of('sig-1', 'ActivityCompleted', 'Prepare') AS sig_point \gset
SET ROLE wf_reset_owner;
SELECT workflow.signal_workflow('sig-1', 'go', '"first"');
SELECT workflow.reset_workflow('sig-1', :sig_point);
RESET ROLE;
SELECT is((SELECT count(*) FROM workflow.history WHERE run_id = open_run('sig-1')
			AND event_type = 'SignalReceived' AND data @> '{"reapplied": true, "payload": "first"}'),
		  1::bigint, 'a signal received after the point is re-applied to the new run');
SELECT is(work('prep'), 'Use', 'and the new run consumes it');
SET ROLE wf_reset_owner;
SELECT workflow.signal_workflow('sig-1', 'go', '"second"');
RESET ROLE;
SELECT is((SELECT result FROM workflow.workflows WHERE run_id = open_run('sig-1') OR
			(workflow_id = 'sig-1' AND status = 'completed')),
		  '{"a": "first", "b": "second"}'::jsonb, 'the reset run completes with both signals');

-- Parents and children ------------------------------------------------------
CREATE FUNCTION kid(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('K1', '{}', 'fam');
	RETURN workflow.activity('K2', '{}', 'fam');
END $$;
CREATE FUNCTION parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('P1', '{}', 'fam');
	RETURN jsonb_build_object('child', workflow.child_workflow('kid'));
END $$;
ALTER FUNCTION kid(jsonb) OWNER TO wf_reset_owner;
ALTER FUNCTION parent(jsonb) OWNER TO wf_reset_owner;
SET ROLE wf_reset_owner;
SELECT workflow.register_workflow('kid', 'kid(jsonb)');
SELECT workflow.register_workflow('parent', 'parent(jsonb)');
SELECT workflow.start_workflow('parent', '{}', 'fam');
RESET ROLE;
SELECT work('fam'); SELECT work('fam');	-- P1, then the child's K1
SELECT event_of('fam', 'ActivityCompleted', 'P1') AS p1_done \gset
SET ROLE wf_reset_owner;
SELECT workflow.reset_workflow('fam/child-2', 1);
RESET ROLE;
SELECT is((SELECT string_agg(event_type, ' ' ORDER BY event_id) FROM workflow.history
			WHERE run_id = open_run('fam')),
		  'WorkflowStarted ActivityScheduled ActivityStarted ActivityCompleted ChildWorkflowStarted',
		  'a reset child: its parent is not told of the old child run''s end');
SELECT work('fam'); SELECT work('fam');	-- the new child's K1, K2
SELECT is((SELECT result FROM workflow.workflows WHERE workflow_id = 'fam' AND status = 'completed'),
		  '{"child": {"k2": "ok-1"}}'::jsonb, 'and gets the new child run''s result');
SET ROLE wf_reset_owner;
SELECT workflow.reset_workflow('fam', :p1_done);
RESET ROLE;
SELECT work('fam');	-- the child started again by the replay: K1
SET ROLE wf_reset_owner;
SELECT workflow.reset_workflow('fam', :p1_done);
RESET ROLE;
SELECT is((SELECT array_agg(status ORDER BY status) FROM workflow.workflows WHERE workflow_id = 'fam/child-2'),
		  ARRAY['completed', 'running', 'terminated', 'terminated'],
		  'a reset parent''s open child is terminated and started again by the replay');
SELECT work('fam'); SELECT work('fam');
SELECT is((SELECT count(*) FROM workflow.workflows WHERE workflow_id = 'fam' AND status = 'completed'), 2::bigint,
		  'and the reset parent completes');

-- In flight at the point: a parallel activity and a timer are scheduled again --
CREATE FUNCTION fan(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a bigint; b bigint; r jsonb;
BEGIN
	a := workflow.activity_async('A', '{}', 'fan');
	b := workflow.activity_async('B', '{}', 'fan');
	r := workflow.wait_all(ARRAY[a, b]);
	PERFORM workflow.sleep('1 hour');
	RETURN r;
END $$;
ALTER FUNCTION fan(jsonb) OWNER TO wf_reset_owner;
SET ROLE wf_reset_owner;
SELECT workflow.register_workflow('fan', 'fan(jsonb)');
SELECT workflow.start_workflow('fan', '{}', 'fan-1');
RESET ROLE;
SELECT work('fan');	-- A completes; B is in flight
SELECT event_of('fan-1', 'ActivityCompleted', 'A') AS a_done \gset
SELECT work('fan');	-- B completes; the sleep starts
SET ROLE wf_reset_owner;
SELECT workflow.reset_workflow('fan-1', :a_done);
RESET ROLE;
SELECT is((SELECT array_agg(activity) FROM workflow.tasks WHERE run_id = open_run('fan-1')), ARRAY['B'],
		  'an activity in flight at the point is scheduled again for the new run');
SELECT is(work('fan'), 'B', 'B runs again');
SELECT is((SELECT count(*) FROM workflow.timers WHERE run_id = open_run('fan-1')), 1::bigint,
		  'then the replay starts the sleep');
SELECT event_id AS timer_started FROM workflow.history
 WHERE run_id = open_run('fan-1') AND event_type = 'TimerStarted' \gset
SET ROLE wf_reset_owner;
SELECT workflow.reset_workflow('fan-1', :timer_started - 1);
RESET ROLE;
SELECT is((SELECT count(*) FROM workflow.timers WHERE run_id = open_run('fan-1')), 1::bigint,
		  'a reset to B''s completion: the replay starts the sleep again');

SELECT * FROM finish();
ROLLBACK;
