-- workflow.timeline(): one row per span of the seed's order saga run as
-- code with a timer, a signal wait and a child -- every attempt of
-- CreateShipment, the compensations -- and of cancelled, terminated, open
-- and failing runs; another role sees nothing.
BEGIN;
SELECT plan(27);

CREATE ROLE wf_tl_alice;
CREATE ROLE wf_tl_mallory;
SELECT workflow.grant_queue('*', 'wf_tl_alice', 'produce');

-- A worker step: claim one task from the queue, then complete or fail it.
CREATE FUNCTION work(q text, fail_with text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
	SELECT * INTO t FROM workflow.claim_activities(q, 'w', 1);
	IF t.task_id IS NULL THEN RETURN NULL; END IF;
	IF fail_with IS NULL THEN
		PERFORM workflow.complete_activity(t.task_id, jsonb_build_object(lower(t.activity), 'ok-' || t.attempt));
	ELSE
		PERFORM workflow.fail_activity(t.task_id, fail_with);
	END IF;
	RETURN t.activity;
END $$;
-- A run's spans as 'kind:name[#attempt]=outcome', in the function's order.
CREATE FUNCTION spans(wf text) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(kind || ':' || name || COALESCE('#' || attempt, '') || '=' || COALESCE(outcome, 'open'),
					  ' ' ORDER BY ord)
	  FROM workflow.timeline(wf) WITH ORDINALITY AS t(run_id, seq, kind, name, attempt, started_at,
													ended_at, outcome, detail, ord)
$$;

CREATE FUNCTION pack(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN workflow.activity('PackItems', input, 'inventory'); END $$;
CREATE FUNCTION order_saga(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb := input;
BEGIN
	r := r || workflow.activity('ReserveInventory', r, 'inventory', '{}', 'ReleaseInventory');
	r := r || workflow.activity('ChargePayment', r, 'payments', '{}', 'RefundPayment');
	PERFORM workflow.sleep('10 seconds');
	r := r || jsonb_build_object('approval', workflow.wait_signal('approve', '1 hour'));
	r := r || jsonb_build_object('pack', workflow.child_workflow('pack', r));
	r := r || workflow.activity('CreateShipment', r, 'shipping',
								'{"retry": {"maximum_attempts": 3, "initial_interval": "1 second"}}');
	r := r || workflow.activity('SendConfirmation', r, 'notifications');
	RETURN r;
END $$;
GRANT EXECUTE ON FUNCTION work(text, text) TO wf_tl_alice;
SET ROLE wf_tl_alice;
SELECT workflow.register_workflow('pack', 'pack(jsonb)');
SELECT workflow.register_workflow('order', 'order_saga(jsonb)');

-- The seed saga, compensated --------------------------------------------------
SELECT workflow.start_workflow('order', '{"order": 1, "note": "<script>alert(1)</script>"}', 'order-1');
RESET ROLE;
SELECT is(spans('order-1'), 'run:order=open activity:ReserveInventory#1=open',
		  'a new run: the run and its first activity, open');
SELECT work('inventory'); SELECT work('payments');
SELECT workflow.tick(now() + interval '11 seconds');
SELECT workflow.signal_workflow('order-1', 'approve', '{"by": "ops"}');
SELECT work('inventory');
SELECT work('shipping', 'CarrierDown');
SELECT is(spans('order-1'),
		  'run:order=open activity:ReserveInventory#1=completed activity:ChargePayment#1=completed '
		  'timer:sleep=fired signal:approve=received child:pack=completed '
		  'activity:CreateShipment#1=failed activity:CreateShipment#2=open',
		  'a retry waiting for its time is the next attempt, open');
SELECT ok(started_at > now(), 'which starts at its retry time')
  FROM workflow.timeline('order-1') WHERE name = 'CreateShipment' AND attempt = 2;
SELECT workflow.tick(now() + interval '2 seconds');
SELECT work('shipping', 'CarrierDown');
SELECT workflow.tick(now() + interval '5 seconds');
SELECT work('shipping', 'CarrierDown');
SELECT work('payments'); SELECT work('inventory');

SELECT is(status, 'compensated', 'the saga ends compensated') FROM workflow.workflows WHERE workflow_id = 'order-1';
SELECT is(spans('order-1'),
		  'run:order=compensated activity:ReserveInventory#1=completed activity:ChargePayment#1=completed '
		  'timer:sleep=fired signal:approve=received child:pack=completed '
		  'activity:CreateShipment#1=failed activity:CreateShipment#2=failed activity:CreateShipment#3=failed '
		  'compensation:RefundPayment#1=completed compensation:ReleaseInventory#1=completed',
		  'one span per attempt, timer, signal wait and child, then the compensations in reverse order');
SELECT is(array_agg(DISTINCT name ORDER BY name) FILTER (WHERE kind IN ('activity', 'compensation')),
		  ARRAY['ChargePayment', 'CreateShipment', 'RefundPayment', 'ReleaseInventory', 'ReserveInventory'],
		  'lanes of the activities that ran; SendConfirmation never did')
  FROM workflow.timeline('order-1');
SELECT is(array_agg(detail->>'final' ORDER BY attempt), ARRAY['false', 'false', 'true'],
		  'CreateShipment''s attempts: two retried, the last final')
  FROM workflow.timeline('order-1') WHERE name = 'CreateShipment';
SELECT is(count(*), 3::bigint, 'each with its error and worker')
  FROM workflow.timeline('order-1')
 WHERE name = 'CreateShipment' AND detail->>'error' = 'CarrierDown' AND detail->>'worker_id' = 'w';
SELECT is(array_agg(seq || ':' || (detail->>'compensates') ORDER BY started_at),
		  ARRAY['2:ChargePayment', '1:ReserveInventory'],
		  'a compensation carries the seq and name of the activity it undoes')
  FROM workflow.timeline('order-1') WHERE kind = 'compensation';
SELECT is(detail->>'duration', '00:00:10', 'the timer''s duration')
  FROM workflow.timeline('order-1') WHERE kind = 'timer';
SELECT is(detail->'payload', '{"by": "ops"}'::jsonb, 'the signal''s payload')
  FROM workflow.timeline('order-1') WHERE kind = 'signal';
SELECT is(detail->>'child_workflow_id', 'order-1/child-5', 'the child''s id')
  FROM workflow.timeline('order-1') WHERE kind = 'child';
SELECT is(count(*), 0::bigint, 'every span is closed, none ends before it starts')
  FROM workflow.timeline('order-1') WHERE ended_at IS NULL OR ended_at < started_at;
SELECT is(count(DISTINCT run_id), 1::bigint, 'one run')
  FROM workflow.timeline('order-1');

-- Rights: the function reads with the caller's -----------------------------
SET ROLE wf_tl_mallory;
SELECT is((SELECT count(*) FROM workflow.timeline('order-1')), 0::bigint, 'another role sees no span');
RESET ROLE;
SET ROLE wf_tl_alice;
SELECT is((SELECT count(*) FROM workflow.timeline('order-1')), 11::bigint, 'the owner sees them all');
RESET ROLE;
SELECT is((SELECT count(*) FROM workflow.timeline('no-such-run')), 0::bigint, 'an unknown id: no rows');

-- Cancelled, terminated ------------------------------------------------------
SELECT workflow.start_workflow('order', '{"order": 2}', 'order-2');
SELECT work('inventory');
CREATE TEMP TABLE running AS SELECT task_id FROM workflow.claim_activities('payments', 'w', 1);
SELECT workflow.cancel_workflow('order-2', 'changed their mind');
SELECT work('inventory');
SELECT is(spans('order-2'),
		  'run:order=cancelled activity:ReserveInventory#1=completed activity:ChargePayment#1=cancelled '
		  'compensation:ReleaseInventory#1=completed',
		  'a cancelled activity''s attempt ends cancelled');
SELECT workflow.start_workflow('order', '{"order": 3}', 'order-3');
SELECT workflow.terminate_workflow('order-3', 'fraud');
SELECT is(spans('order-3'), 'run:order=terminated activity:ReserveInventory#1=cancelled',
		  'a span the run left open ends with it');
SELECT is(ended_at, (SELECT closed_at FROM workflow.workflows WHERE workflow_id = 'order-3'),
		  'at the run''s close')
  FROM workflow.timeline('order-3') WHERE kind = 'activity';

-- A failing workflow task, continue-as-new --------------------------------------
CREATE FUNCTION buggy(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN jsonb_build_object('ratio', 1 / (input->>'d')::int); END $$;
SELECT workflow.register_workflow('buggy', 'buggy(jsonb)');
SELECT workflow.start_workflow('buggy', '{"d": 0}', 'wf-bug');
SELECT is(spans('wf-bug'), 'run:buggy=open task_failure:workflow task#1=failed',
		  'a failed workflow task is a span until its retry');
SELECT is(detail->'error'->>'sqlstate', '22012', 'with its error')
  FROM workflow.timeline('wf-bug') WHERE kind = 'task_failure';

-- A signal wait without a timeout: only its end is written --------------------
CREATE FUNCTION waiting(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Prepare', input, 'inventory');
	RETURN workflow.wait_signal('go');
END $$;
SELECT workflow.register_workflow('waiting', 'waiting(jsonb)');
SELECT workflow.start_workflow('waiting', '{}', 'wf-wait');
SELECT work('inventory');
SELECT is(spans('wf-wait'), 'run:waiting=open activity:Prepare#1=completed',
		  'a signal wait without a timeout is not a span before its signal');
SELECT workflow.signal_workflow('wf-wait', 'go', '{"n": 1}');
SELECT is(spans('wf-wait'), 'run:waiting=completed activity:Prepare#1=completed signal:go=received',
		  'it is once the signal arrived');
SELECT is(started_at, (SELECT created_at FROM workflow.history
						WHERE workflow_id = 'wf-wait' AND event_type = 'ActivityCompleted'),
		  'starting at the event before it (not the signal''s arrival)')
  FROM workflow.timeline('wf-wait') WHERE kind = 'signal';

CREATE FUNCTION looping(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 minute');
	IF (input->>'n')::int < 2 THEN
		PERFORM workflow.continue_as_new(jsonb_build_object('n', (input->>'n')::int + 1));
	END IF;
	RETURN input;
END $$;
SELECT workflow.register_workflow('looping', 'looping(jsonb)');
SELECT workflow.start_workflow('looping', '{"n": 1}', 'wf-loop');
SELECT workflow.tick(now() + interval '2 minutes');
SELECT workflow.tick(now() + interval '4 minutes');
SELECT is(spans('wf-loop'),
		  'run:looping=continued_as_new timer:sleep=fired run:looping=completed timer:sleep=fired',
		  'every run of a continue-as-new chain, oldest first');
SELECT is(count(DISTINCT run_id), 2::bigint, 'two runs') FROM workflow.timeline('wf-loop');

SELECT * FROM finish();
ROLLBACK;
