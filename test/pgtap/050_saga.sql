-- Sagas: the seed's order example in code and declared with register_saga,
-- compensations that retry or fail, cancellation and termination.
BEGIN;
SELECT plan(30);

-- A worker step: claim one task from the queue, then complete or fail it.
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
CREATE FUNCTION events(wf text) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(event_type || COALESCE(':' || (data->>'activity'), ''), ' ' ORDER BY event_id)
	  FROM workflow.history WHERE workflow_id = wf
$$;

CREATE FUNCTION order_saga(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb := input;
BEGIN
	r := r || workflow.activity('ReserveInventory', r, 'inventory', '{}', 'ReleaseInventory');
	r := r || workflow.activity('ChargePayment', r, 'payments', '{}', 'RefundPayment');
	r := r || workflow.activity('CreateShipment', r, 'shipping',
								'{"retry": {"maximum_attempts": 3, "initial_interval": "1 second"}}');
	r := r || workflow.activity('SendConfirmation', r, 'notifications');
	RETURN r;
END $$;
SELECT workflow.register_workflow('order', 'order_saga(jsonb)');

-- The seed example: CreateShipment fails for good ----------------------------
SELECT workflow.start_workflow('order', '{"order": 1}', 'order-1');
SELECT is(work('inventory'), 'ReserveInventory', 'inventory reserved');
SELECT is(work('payments'), 'ChargePayment', 'payment charged');
SELECT is(work('shipping', 'CarrierDown'), 'CreateShipment', 'shipment attempt 1 fails');
SELECT workflow.tick(now() + interval '1 second');
SELECT work('shipping', 'CarrierDown');
SELECT workflow.tick(now() + interval '3 seconds');
SELECT work('shipping', 'CarrierDown');
SELECT is(status, 'compensating', 'after the last retry the run compensates')
  FROM workflow.workflows WHERE workflow_id = 'order-1';
SELECT is(work('inventory'), NULL, 'compensations run one at a time, newest first');
SELECT is(work('payments'), 'RefundPayment', 'RefundPayment runs first');
SELECT is(work('inventory'), 'ReleaseInventory', 'then ReleaseInventory');
SELECT is(status, 'compensated', 'the run ends compensated') FROM workflow.workflows WHERE workflow_id = 'order-1';
SELECT is(error->>'message', 'activity "CreateShipment" failed: CarrierDown', 'and keeps the original error')
  FROM workflow.workflows WHERE workflow_id = 'order-1';
SELECT is(events('order-1'),
		  'WorkflowStarted '
		  'ActivityScheduled:ReserveInventory ActivityStarted:ReserveInventory ActivityCompleted:ReserveInventory '
		  'ActivityScheduled:ChargePayment ActivityStarted:ChargePayment ActivityCompleted:ChargePayment '
		  'ActivityScheduled:CreateShipment '
		  'ActivityStarted:CreateShipment ActivityFailed:CreateShipment '
		  'ActivityStarted:CreateShipment ActivityFailed:CreateShipment '
		  'ActivityStarted:CreateShipment ActivityFailed:CreateShipment '
		  'CompensationScheduled:RefundPayment ActivityStarted:RefundPayment ActivityCompleted:RefundPayment '
		  'CompensationScheduled:ReleaseInventory ActivityStarted:ReleaseInventory ActivityCompleted:ReleaseInventory '
		  'WorkflowCompensated',
		  'the history shows each step, each retry, the failure and both compensations in reverse order');
SELECT is(data->'input', '{"order": 1, "chargepayment": "ok-1", "reserveinventory": "ok-1"}'::jsonb,
		  'a compensation gets the activity''s input merged with its result')
  FROM workflow.history
 WHERE workflow_id = 'order-1' AND event_type = 'CompensationScheduled' AND data->>'activity' = 'RefundPayment';

-- The same saga declared, without code ------------------------------------
SELECT workflow.register_saga('order_saga', '[
	{"activity": "ReserveInventory", "queue": "inventory", "compensation": "ReleaseInventory"},
	{"activity": "ChargePayment", "queue": "payments", "compensation": "RefundPayment"},
	{"activity": "CreateShipment", "queue": "shipping", "options": {"retry": {"maximum_attempts": 1}}},
	{"activity": "SendConfirmation", "queue": "notifications"}]');
SELECT workflow.start_workflow('order_saga', '{"order": 2}', 'order-2');
SELECT work('inventory');
SELECT work('payments');
SELECT work('shipping', 'CarrierDown');
SELECT is(work('payments'), 'RefundPayment', 'register_saga: RefundPayment first');
SELECT is(work('inventory'), 'ReleaseInventory', 'register_saga: then ReleaseInventory');
SELECT is(status, 'compensated', 'register_saga: compensated') FROM workflow.workflows WHERE workflow_id = 'order-2';
SELECT is(count(*), 0::bigint, 'nothing of SendConfirmation')
  FROM workflow.history WHERE workflow_id = 'order-2' AND data->>'activity' = 'SendConfirmation';

SELECT workflow.start_workflow('order_saga', '{"order": 3}', 'order-3');
SELECT work('inventory'); SELECT work('payments'); SELECT work('shipping'); SELECT work('notifications');
SELECT is(result, '{"order": 3, "chargepayment": "ok-1", "createshipment": "ok-1",
				   "reserveinventory": "ok-1", "sendconfirmation": "ok-1"}'::jsonb,
		  'a successful saga returns the input merged with every result')
  FROM workflow.workflows WHERE workflow_id = 'order-3';

-- A compensation that fails twice, then succeeds ---------------------------
SELECT workflow.start_workflow('order_saga', '{"order": 4}', 'order-4');
SELECT work('inventory'); SELECT work('payments'); SELECT work('shipping', 'CarrierDown');
SELECT work('payments', 'BankTimeout');
SELECT workflow.tick(now() + interval '1 second');
SELECT work('payments', 'BankTimeout');
SELECT workflow.tick(now() + interval '3 seconds');
SELECT is(work('payments'), 'RefundPayment', 'the third refund attempt succeeds');
SELECT work('inventory');
SELECT is(status, 'compensated', 'the run is still compensated') FROM workflow.workflows WHERE workflow_id = 'order-4';

-- A compensation that fails for good ---------------------------------------
SELECT workflow.start_workflow('order_saga', '{"order": 5}', 'order-5');
SELECT work('inventory'); SELECT work('payments'); SELECT work('shipping', 'CarrierDown');
SELECT work('payments', 'AccountClosed', false);
SELECT is(status, 'failed', 'a compensation failing for good leaves the run failed')
  FROM workflow.workflows WHERE workflow_id = 'order-5';
SELECT is(error->'compensation_error'->>'error', 'AccountClosed', 'with the reason for an operator')
  FROM workflow.workflows WHERE workflow_id = 'order-5';
SELECT is(work('inventory'), NULL, 'and no further compensation runs');

-- Cancel while an activity is running --------------------------------------
SELECT workflow.start_workflow('order', '{"order": 6}', 'order-6');
SELECT work('inventory');
CREATE TEMP TABLE running AS SELECT task_id FROM workflow.claim_activities('payments', 'w', 1);
SELECT workflow.cancel_workflow('order-6', 'customer changed their mind');
SELECT is(workflow.heartbeat_activity(task_id), true, 'the running activity learns of the cancellation')
  FROM running;
SELECT lives_ok($$SELECT workflow.complete_activity(task_id, '{}') FROM running$$,
				'its late completion is accepted as a no-op');
SELECT is(work('inventory'), 'ReleaseInventory', 'the completed step is compensated');
SELECT is(status, 'cancelled', 'the run ends cancelled') FROM workflow.workflows WHERE workflow_id = 'order-6';
SELECT is(events('order-6'),
		  'WorkflowStarted ActivityScheduled:ReserveInventory ActivityStarted:ReserveInventory '
		  'ActivityCompleted:ReserveInventory ActivityScheduled:ChargePayment WorkflowCancelRequested '
		  'ActivityCancelled:ChargePayment CompensationScheduled:ReleaseInventory '
		  'ActivityStarted:ReleaseInventory ActivityCompleted:ReleaseInventory WorkflowCancelled',
		  'the history shows the request, the cancelled activity and the compensation');

-- Terminate with tasks pending ----------------------------------------------
SELECT workflow.start_workflow('order', '{"order": 7}', 'order-7');
SELECT workflow.terminate_workflow('order-7', 'fraud');
SELECT is(work('inventory'), NULL, 'after terminate no task is claimable');
SELECT is(status, 'terminated', 'the run is terminated') FROM workflow.workflows WHERE workflow_id = 'order-7';

-- Closed or unknown workflows -----------------------------------------------
SELECT throws_ok($$SELECT workflow.cancel_workflow('order-7')$$, 'WF012', NULL, 'cancelling a closed run is an error');
SELECT throws_ok($$SELECT workflow.terminate_workflow('order-404')$$, '42704', NULL, 'terminating an unknown one too');

SELECT * FROM finish();
ROLLBACK;
