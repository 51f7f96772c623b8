-- Parallel activities, child workflows, continue-as-new, time skipping,
-- search attributes.
BEGIN;
SELECT plan(24);

CREATE FUNCTION drain(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE t record; n int := 0;
BEGIN
	LOOP
		SELECT * INTO t FROM workflow.claim_activities(q, 'w', 1);
		EXIT WHEN t.task_id IS NULL;
		PERFORM workflow.complete_activity(t.task_id, jsonb_build_object('i', t.input->'i', 'q', q));
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

-- Fan-out of 100 activities over 4 queues, fan-in with wait_all ---------
CREATE FUNCTION fan(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE handles bigint[] := '{}';
BEGIN
	FOR i IN 1..100 LOOP
		handles := handles || workflow.activity_async('Part', jsonb_build_object('i', i), 'fan' || (i % 4));
	END LOOP;
	RETURN workflow.wait_all(handles);
END $$;
SELECT workflow.register_workflow('fan', 'fan(jsonb)');
SELECT workflow.start_workflow('fan', '{}', 'fan-1');
SELECT is(count(*), 100::bigint, 'all 100 activities are scheduled at once') FROM workflow.tasks WHERE workflow_id = 'fan-1';
SELECT is(drain('fan3') + drain('fan1') + drain('fan0') + drain('fan2'), 100, 'the four queues are drained in any order');
SELECT is(status, 'completed', 'the fan-in completes') FROM workflow.workflows WHERE workflow_id = 'fan-1';
SELECT is((SELECT array_agg((e->>'i')::int) FROM jsonb_array_elements(result) e),
		  array(SELECT generate_series(1, 100)), 'wait_all returns the results in call order')
  FROM workflow.workflows WHERE workflow_id = 'fan-1';
SELECT is(array_agg(DISTINCT event_type || ' x' || n ORDER BY event_type || ' x' || n),
		  ARRAY['ActivityCompleted x100', 'ActivityScheduled x100', 'ActivityStarted x100',
				'WorkflowCompleted x1', 'WorkflowStarted x1'],
		  'its history: 100 activities scheduled in one task, each started and completed')
  FROM (SELECT event_type, count(*) OVER (PARTITION BY event_type) n FROM workflow.history
		 WHERE workflow_id = 'fan-1') e;
SELECT is(array_agg(event_id ORDER BY event_id), array(SELECT generate_series(2, 101)::bigint),
		  'the 100 ActivityScheduled events come first, in call order')
  FROM workflow.history WHERE workflow_id = 'fan-1' AND event_type = 'ActivityScheduled';

-- A failure surfaces at its wait ------------------------------------------
CREATE FUNCTION fan_fail(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a bigint; b bigint; ra jsonb;
BEGIN
	a := workflow.activity_async('A', '{}', 'ff');
	b := workflow.activity_async('B', '{}', 'ff');
	ra := workflow.wait(a);
	BEGIN
		PERFORM workflow.wait(b);
	EXCEPTION WHEN SQLSTATE 'WF001' THEN
		RETURN jsonb_build_object('a', ra, 'b_failed', SQLERRM);
	END;
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('fan_fail', 'fan_fail(jsonb)');
SELECT workflow.start_workflow('fan_fail', '{}', 'ff-1');
SELECT CASE WHEN activity = 'B' THEN workflow.fail_activity(task_id, 'nope', false)::text
			ELSE workflow.complete_activity(task_id, '{"i": null, "q": "ff"}')::text END
  FROM workflow.claim_activities('ff', 'w', 10);
SELECT is(result, '{"a": {"i": null, "q": "ff"}, "b_failed": "activity \"B\" failed: nope"}'::jsonb,
		  'the failure of one activity surfaces at its wait')
  FROM workflow.workflows WHERE workflow_id = 'ff-1';

-- Child workflows ---------------------------------------------------------
CREATE FUNCTION child(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF input ? 'fail' THEN RAISE EXCEPTION 'child says no'; END IF;
	RETURN jsonb_build_object('child_got', workflow.activity('ChildStep', input, 'cq'));
END $$;
CREATE FUNCTION parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
	r := workflow.child_workflow('child', input);
	RETURN jsonb_build_object('from_child', r);
EXCEPTION WHEN SQLSTATE 'WF006' THEN
	RETURN jsonb_build_object('child_failed', SQLERRM);
END $$;
SELECT workflow.register_workflow('child', 'child(jsonb)');
SELECT workflow.register_workflow('parent', 'parent(jsonb)');
SELECT workflow.start_workflow('parent', '{"i": 7}', 'par-1');
SELECT is(parent_workflow_id, 'par-1', 'the child records its parent')
  FROM workflow.workflows WHERE workflow_id = 'par-1/child-1';
SELECT is(drain('cq'), 1, 'the child runs its activity');
SELECT is(result, '{"from_child": {"child_got": {"i": 7, "q": "cq"}}}'::jsonb, 'the parent resumes with the child''s result')
  FROM workflow.workflows WHERE workflow_id = 'par-1';
SELECT is(array_agg(event_type ORDER BY event_id),
		  ARRAY['WorkflowStarted', 'ChildWorkflowStarted', 'ChildWorkflowCompleted', 'WorkflowCompleted'],
		  'the parent''s history shows the child')
  FROM workflow.history WHERE workflow_id = 'par-1';
SELECT workflow.start_workflow('parent', '{"fail": true}', 'par-2');
SELECT is(result->>'child_failed', 'child workflow "par-2/child-1" ended failed', 'a child''s failure raises WF006 in the parent')
  FROM workflow.workflows WHERE workflow_id = 'par-2';
SELECT workflow.start_workflow('parent', '{"i": 8}', 'par-3');
SELECT workflow.cancel_workflow('par-3');
SELECT is(status, 'cancelled', 'cancelling a parent cancels its child')
  FROM workflow.workflows WHERE workflow_id = 'par-3/child-1';
SELECT is(status, 'cancelled', 'and the parent ends cancelled') FROM workflow.workflows WHERE workflow_id = 'par-3';

-- continue_as_new keeps each run's history short --------------------------
CREATE FUNCTION forever(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE done int := COALESCE((input->>'done')::int, 0);
BEGIN
	FOR i IN 1..100 LOOP
		PERFORM workflow.activity('Tick', jsonb_build_object('i', done + i), 'loop');
	END LOOP;
	IF done + 100 >= 1000 THEN
		RETURN jsonb_build_object('done', done + 100);
	END IF;
	PERFORM workflow.continue_as_new(jsonb_build_object('done', done + 100));
	RETURN NULL;
END $$;
SELECT workflow.register_workflow('forever', 'forever(jsonb)');
SELECT workflow.start_workflow('forever', '{}', 'loop-1');
SELECT is(drain('loop'), 1000, '1,000 activities across the runs');
SELECT is(count(*), 10::bigint, 'ten runs of the same workflow_id') FROM workflow.workflows WHERE workflow_id = 'loop-1';
SELECT is(count(*) FILTER (WHERE status = 'continued_as_new'), 9::bigint, 'nine continued as new')
  FROM workflow.workflows WHERE workflow_id = 'loop-1';
SELECT cmp_ok(max(n), '<=', 100::bigint, 'no run''s history holds more than 100 activities')
  FROM (SELECT count(*) n FROM workflow.history WHERE workflow_id = 'loop-1' AND event_type = 'ActivityScheduled'
		 GROUP BY run_id) s;
SELECT is((SELECT array_agg(event_type ORDER BY event_id DESC) FROM (SELECT event_type, event_id FROM workflow.history h
			 WHERE h.workflow_id = 'loop-1' AND h.run_id = w.run_id ORDER BY event_id DESC LIMIT 2) x),
		  ARRAY['WorkflowContinuedAsNew', 'ActivityCompleted'],
		  'a continued run ends with WorkflowContinuedAsNew')
  FROM workflow.workflows w WHERE workflow_id = 'loop-1' AND status = 'continued_as_new'
 ORDER BY created_at LIMIT 1;
SELECT is(count(*), 9::bigint, 'and each next run starts with WorkflowStarted naming the run it continues')
  FROM workflow.history WHERE workflow_id = 'loop-1' AND event_type = 'WorkflowStarted'
   AND data ? 'continued_from_run_id' AND event_id = 1;
SELECT is(result, '{"done": 1000}'::jsonb, 'the current run is the last one and completes')
  FROM workflow.workflows WHERE workflow_id = 'loop-1' AND closed_at = (SELECT max(closed_at) FROM workflow.workflows
  WHERE workflow_id = 'loop-1');

-- skip_time: a 30-day workflow in one call --------------------------------
CREATE FUNCTION monthly(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	FOR d IN 1..30 LOOP
		PERFORM workflow.sleep('1 day');
	END LOOP;
	RETURN jsonb_build_object('days', 30);
END $$;
SELECT workflow.register_workflow('monthly', 'monthly(jsonb)');
SELECT workflow.start_workflow('monthly', '{}', 'month');
SELECT cmp_ok(workflow.skip_time('31 days'), '>=', 30, 'skip_time fires the 30 daily timers');
SELECT is(status, 'completed', 'the 30-day workflow completes at once') FROM workflow.workflows WHERE workflow_id = 'month';

-- Search attributes --------------------------------------------------------
SELECT workflow.start_workflow('monthly', '{}', 'sa-1', '{"search_attributes": {"customer": "c-42", "tier": "gold"}}');
SELECT is(array_agg(workflow_id), ARRAY['sa-1'], 'runs can be found by their search attributes')
  FROM workflow.workflows WHERE search_attributes @> '{"customer": "c-42"}';

SELECT * FROM finish();
ROLLBACK;
