-- Flow control: queue limits and their bad input, priorities (claims are
-- priority-then-FIFO), workflow-level limits (max_running: queued starts,
-- started in priority-then-FIFO order when a slot frees), and steering
-- queued runs (if_exists, cancel, terminate).  The concurrency of the
-- queue limits is test/shell/flow_limits.sh's.
BEGIN;
SELECT plan(55);

-- One activity on the queue and with the options the input names.
CREATE FUNCTION one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Work', input, input->>'queue', COALESCE(input->'options', '{}'));
END $$;
SELECT workflow.register_workflow('one', 'one(jsonb)');

-- Claim one task of a queue and complete it; its input's "i", or NULL.
CREATE FUNCTION work_one(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
	SELECT * INTO t FROM workflow.claim_activities(q, 'test', 1);
	IF t.task_id IS NULL THEN RETURN NULL; END IF;
	PERFORM workflow.complete_activity(t.task_id, '{}');
	RETURN (t.input->>'i')::int;
END $$;

-- Queue limits: bad input changes nothing ---------------------------------
SELECT throws_ok($$SELECT workflow.configure_queue('q', '{"max_concurrency": -1}')$$, 'WF014', NULL,
				 'a negative max_concurrency is refused (WF014)');
SELECT throws_ok($$SELECT workflow.configure_queue('q', '{"max_concurrency": 0}')$$, 'WF014', NULL,
				 'max_concurrency 0 is refused (paused is for that)');
SELECT throws_ok($$SELECT workflow.configure_queue('q', '{"max_concurency": 3}')$$, 'WF014',
				 'unknown key "max_concurency" in queue options',
				 'an unknown queue option is refused, by name');
SELECT throws_ok($$SELECT workflow.configure_queue('q', '{"key_concurrency": 1.5}')$$, 'WF014', NULL,
				 'a fractional key_concurrency is refused');
SELECT throws_ok($$SELECT workflow.configure_queue('q', '{"rate_limit": {"tasks": 5}}')$$, 'WF014', NULL,
				 'a rate_limit without "per" is refused');
SELECT throws_ok($$SELECT workflow.configure_queue('q', '{"rate_limit": {"tasks": 5, "per": "1 s", "burst": 2}}')$$,
				 'WF014', NULL, 'an unknown rate_limit key is refused');
SELECT throws_ok($$SELECT workflow.configure_queue('q', '{"rate_limit": {"tasks": 5, "per": "-1 second"}}')$$,
				 '22023', NULL, 'a negative rate_limit period is refused');
SELECT throws_ok($$SELECT workflow.configure_queue('q', '{"paused": "yes"}')$$, 'WF014', NULL,
				 'paused must be a boolean');
SELECT throws_ok($$SELECT workflow.configure_queue('q', '["max_concurrency"]')$$, 'WF014', NULL,
				 'options must be an object');
SELECT throws_ok($$SELECT workflow.configure_queue('bad"queue', '{}')$$, '42602', NULL,
				 'an invalid queue name is refused');
SELECT is((SELECT count(*) FROM workflow.queue_config), 0::bigint, 'and nothing was configured');

-- max_concurrency, paused, removing limits ---------------------------------
SELECT count(workflow.start_workflow('one', jsonb_build_object('queue', 'capped', 'i', i), 'c-' || i))
  FROM generate_series(1, 6) i;
SELECT workflow.configure_queue('capped', '{"max_concurrency": 2}');
SELECT is((SELECT count(*) FROM workflow.claim_activities('capped', 'w', 5)), 2::bigint,
		  'max_concurrency 2: a claim of 5 gets 2');
SELECT is((SELECT count(*) FROM workflow.claim_activities('capped', 'w', 5)), 0::bigint,
		  'and the next claim none, not an error');
SELECT workflow.complete_activity(task_id, '{}') FROM workflow.tasks
 WHERE queue = 'capped' AND status = 'running' AND workflow_id = 'c-1';
SELECT is((SELECT count(*) FROM workflow.claim_activities('capped', 'w', 5)), 1::bigint,
		  'a report frees its slot');
-- A dead worker's claim frees its slot when its lease ends, not before.
SELECT count(workflow.start_workflow('one', jsonb_build_object('queue', 'leased', 'i', i,
		 'options', '{"start_to_close_timeout": "30 seconds", "retry": {"initial_interval": "1 second"}}'::jsonb),
		 'l-' || i))
  FROM generate_series(1, 2) i;
SELECT workflow.configure_queue('leased', '{"max_concurrency": 1}');
SELECT is((SELECT count(*) FROM workflow.claim_activities('leased', 'vanishing', 5)), 1::bigint,
		  'max_concurrency 1: one task, for a worker that will never report');
SELECT workflow.tick(now() + interval '29 seconds');
SELECT is((SELECT count(*) FROM workflow.claim_activities('leased', 'other', 5)), 0::bigint,
		  'its slot stays taken while its lease lasts');
SELECT workflow.tick(now() + interval '31 seconds');
SELECT is((SELECT count(*) FROM workflow.claim_activities('leased', 'other', 5)), 1::bigint,
		  'once the lease has ended, another worker gets the slot');
SELECT is((SELECT row(options, ready, in_flight, backing_off, claimed_last_minute)::text
			 FROM workflow.queues WHERE queue = 'capped'),
		  row('{"max_concurrency": 2}'::jsonb, 3, 2, 0, 3)::text,
		  'workflow.queues shows the options, ready, in-flight tasks and the claims of the last minute');
SELECT workflow.configure_queue('capped', '{"paused": true}');
SELECT is((SELECT options FROM workflow.queues WHERE queue = 'capped'),
		  '{"max_concurrency": 2, "paused": true}', 'options given later keep the others');
SELECT workflow.complete_activity(task_id, '{}') FROM workflow.tasks
 WHERE queue = 'capped' AND status = 'running';
SELECT is((SELECT count(*) FROM workflow.claim_activities('capped', 'w', 5)), 0::bigint,
		  'a paused queue hands out nothing');
SELECT workflow.configure_queue('capped', '{"paused": false, "max_concurrency": null}');
SELECT is((SELECT count(*) FROM workflow.queue_config WHERE queue = 'capped'), 0::bigint,
		  'null removes a limit; a queue left without limits has no configuration');
SELECT is((SELECT count(*) FROM workflow.claim_activities('capped', 'w', 5)), 3::bigint,
		  'and claims take what is ready again');
SELECT is((SELECT options FROM workflow.queues WHERE queue = 'capped'), '{}', 'its options are {}');

-- key_concurrency ---------------------------------------------------------
SELECT count(workflow.start_workflow('one', jsonb_build_object('queue', 'keyed', 'i', i,
		   'options', jsonb_build_object('concurrency_key', 'k' || (i % 2)))))
  FROM generate_series(1, 6) i;
SELECT workflow.start_workflow('one', '{"queue": "keyed", "i": 7}');
SELECT workflow.configure_queue('keyed', '{"key_concurrency": 1}');
SELECT is((SELECT array_agg((input->>'i')::int ORDER BY (input->>'i')::int)
			 FROM workflow.claim_activities('keyed', 'w', 10)),
		  ARRAY[1, 2, 7], 'key_concurrency 1: one task per key, and tasks without a key');
SELECT is((SELECT count(*) FROM workflow.claim_activities('keyed', 'w', 10)), 0::bigint,
		  'then none while both keys are in flight');
SELECT workflow.complete_activity(task_id, '{}') FROM workflow.tasks
 WHERE queue = 'keyed' AND status = 'running' AND input->>'i' = '1';
SELECT is((SELECT array_agg((input->>'i')::int) FROM workflow.claim_activities('keyed', 'w', 10)),
		  ARRAY[3], 'a report frees its key''s slot, for the next task of that key');

-- rate_limit: the bucket starts empty (time stands still in a transaction) --
SELECT workflow.start_workflow('one', '{"queue": "rated", "i": 1}');
SELECT workflow.configure_queue('rated', '{"rate_limit": {"tasks": 10, "per": "1 minute"}}');
SELECT is((SELECT count(*) FROM workflow.claim_activities('rated', 'w', 5)), 0::bigint,
		  'a new rate limit starts with an empty bucket: claims return nothing, not an error');
SELECT is((SELECT options FROM workflow.queues WHERE queue = 'rated'),
		  '{"rate_limit": {"per": "00:01:00", "tasks": 10}}', 'the view shows the rate limit');

-- Priorities: priority-then-FIFO ------------------------------------------
CREATE FUNCTION fan(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	handles bigint[] := '{}';
	p jsonb;
	i int := 0;
BEGIN
	FOR p IN SELECT * FROM jsonb_array_elements(input->'priorities') LOOP
		i := i + 1;
		handles := handles || workflow.activity_async('P', jsonb_build_object('i', i), 'prio',
			CASE WHEN p = 'null' THEN '{}' ELSE jsonb_build_object('priority', p) END);
	END LOOP;
	RETURN workflow.wait_all(handles);
END $$;
SELECT workflow.register_workflow('fan', 'fan(jsonb)');
SELECT workflow.start_workflow('fan', '{"priorities": [5, 9, 1, null, 3, 1, 9, 5, 3, 2, null, 1]}', 'fan-1');
SELECT is((SELECT array_agg((input->>'i')::int ORDER BY (input->>'i')::int)
			 FROM workflow.claim_activities('prio', 'w', 4)),
		  ARRAY[3, 6, 10, 12], 'a batch claim takes the three of priority 1, then the one of 2');
SELECT is(ARRAY(SELECT work_one('prio') FROM generate_series(1, 8)),
		  ARRAY[5, 9, 1, 4, 8, 11, 2, 7],
		  'one by one: 3s, then 5s (the default) in scheduling order, then 9s');
SELECT throws_ok($$SELECT workflow.register_saga('bad', '[{"activity": "A", "options": {"priority": 10}}]')$$,
				 '22023', NULL, 'an activity priority of 10 is refused');
SELECT throws_ok($$SELECT workflow.register_saga('bad', '[{"activity": "A", "options": {"concurrency_key": 7}}]')$$,
				 '22023', NULL, 'a concurrency_key that is not a string is refused');

-- Workflow limits: bad input ----------------------------------------------
SELECT throws_ok($$SELECT workflow.register_workflow('lim', 'one(jsonb)', '{"max_running": 0}')$$, '22023', NULL,
				 'max_running 0 is refused');
SELECT throws_ok($$SELECT workflow.register_workflow('lim', 'one(jsonb)', '{"max_running_per_key": -1}')$$,
				 '22023', NULL, 'a negative max_running_per_key is refused');
SELECT throws_ok($$SELECT workflow.register_workflow('lim', 'one(jsonb)', '{"max_runing": 2}')$$, '22023',
				 'unknown key "max_runing" in workflow options', 'an unknown type option is refused, by name');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', 'bad', '{"priority": 0}')$$, '22023', NULL,
				 'a start priority of 0 is refused');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', 'bad', '{"max_running": 2}')$$, '22023', NULL,
				 'max_running is a type option, not a start option');
SELECT is((SELECT count(*) FROM workflow.workflows WHERE workflow_id = 'bad' OR workflow_type = 'lim'),
		  0::bigint, 'and nothing was registered or started');

-- max_running = 2: ten starts, two running, eight queued --------------------
SELECT workflow.register_workflow('lim', 'one(jsonb)', '{"max_running": 2}');
SELECT count(workflow.start_workflow('lim', jsonb_build_object('queue', 'limq', 'i', i), 'm-' || i))
  FROM generate_series(1, 10) i;
SELECT is(ARRAY(SELECT status || ':' || count(*) FROM workflow.workflows WHERE workflow_type = 'lim'
				 GROUP BY status ORDER BY status),
		  ARRAY['queued:8', 'running:2'], 'max_running 2: ten starts give two running and eight queued');
SELECT is(ARRAY(SELECT workflow_id FROM workflow.workflows WHERE workflow_type = 'lim' AND status = 'running'
				 ORDER BY workflow_id),
		  ARRAY['m-1', 'm-2'], 'the first two run');
SELECT is(ARRAY(SELECT event_type FROM workflow.history WHERE workflow_id = 'm-3' ORDER BY event_id),
		  ARRAY['WorkflowQueued'], 'a queued run has WorkflowQueued and has run no code');
SELECT is((SELECT count(*) FROM workflow.tasks WHERE queue = 'limq'), 2::bigint,
		  'only the running ones scheduled their activity');
SELECT is(workflow.start_workflow('lim', '{}', 'm-5', '{"if_exists": "return"}'), 'm-5',
		  'if_exists "return" treats a queued run as existing');
SELECT throws_ok($$SELECT workflow.start_workflow('lim', '{}', 'm-5')$$, 'WF011', NULL,
				 'and starting its id again is the usual error');

-- Drain the queue one task at a time, watching the running count.
CREATE TEMP TABLE running_seen (n bigint);
CREATE FUNCTION drain_lim() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	WHILE work_one('limq') IS NOT NULL LOOP
		INSERT INTO running_seen
			SELECT count(*) FROM workflow.workflows WHERE workflow_type = 'lim' AND status = 'running';
	END LOOP;
END $$;
SELECT drain_lim();
SELECT is(ARRAY(SELECT workflow_id FROM workflow.workflows WHERE workflow_type = 'lim'
				 AND status = 'completed' ORDER BY closed_at),
		  ARRAY['m-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6', 'm-7', 'm-8', 'm-9', 'm-10'],
		  'all ten complete, in start order');
SELECT is((SELECT max(n) FROM running_seen), 2::bigint, 'never more than two running');
SELECT is(ARRAY(SELECT event_type FROM workflow.history WHERE workflow_id = 'm-3' ORDER BY event_id LIMIT 3),
		  ARRAY['WorkflowQueued', 'WorkflowStarted', 'ActivityScheduled'],
		  'a queued run starts (WorkflowStarted) in the transaction that freed its slot, and replays');
SELECT is((SELECT data->'input' FROM workflow.history WHERE workflow_id = 'm-3' AND event_type = 'WorkflowStarted'),
		  '{"queue": "limq", "i": 3}', 'with the data it was queued with');

-- Priority of queued starts; cancel and terminate of queued runs ------------
SELECT workflow.register_workflow('solo', 'one(jsonb)', '{"max_running": 1}');
SELECT workflow.start_workflow('solo', '{"queue": "soloq", "i": 1}', 's-1');
SELECT workflow.start_workflow('solo', '{"queue": "soloq", "i": 2}', 's-2');
SELECT workflow.start_workflow('solo', '{"queue": "soloq", "i": 3}', 's-3', '{"priority": 1}');
SELECT workflow.start_workflow('solo', '{"queue": "soloq", "i": 4}', 's-4');
SELECT workflow.start_workflow('solo', '{"queue": "soloq", "i": 5}', 's-5', '{"priority": 2}');
SELECT workflow.start_workflow('solo', '{"queue": "soloq", "i": 6}', 's-6');
SELECT workflow.cancel_workflow('s-4', 'not needed');
SELECT is((SELECT status FROM workflow.workflows WHERE workflow_id = 's-4'), 'cancelled',
		  'cancelling a queued run cancels it at once');
SELECT is(ARRAY(SELECT event_type FROM workflow.history WHERE workflow_id = 's-4' ORDER BY event_id),
		  ARRAY['WorkflowQueued', 'WorkflowCancelRequested', 'WorkflowCancelled'], 'its history says so');
SELECT workflow.terminate_workflow('s-6', 'gone');
SELECT is((SELECT status FROM workflow.workflows WHERE workflow_id = 's-6'), 'terminated',
		  'terminating a queued run works');
SELECT is((SELECT count(*) FROM workflow.workflows WHERE workflow_type = 'solo' AND status = 'running'),
		  1::bigint, 'and neither freed a slot it did not hold');
SELECT is(ARRAY(SELECT work_one('soloq') FROM generate_series(1, 5)),
		  ARRAY[1, 3, 5, 2, NULL], 'queued runs start by priority, then FIFO');

-- max_running_per_key; raising a limit starts what now fits -----------------
SELECT workflow.register_workflow('perkey', 'one(jsonb)', '{"max_running_per_key": 1}');
SELECT workflow.start_workflow('perkey', '{"queue": "pkq", "i": 1}', 'k-1', '{"concurrency_key": "a"}');
SELECT workflow.start_workflow('perkey', '{"queue": "pkq", "i": 2}', 'k-2', '{"concurrency_key": "a"}');
SELECT workflow.start_workflow('perkey', '{"queue": "pkq", "i": 3}', 'k-3', '{"concurrency_key": "b"}');
SELECT workflow.start_workflow('perkey', '{"queue": "pkq", "i": 4}', 'k-4');
SELECT is(ARRAY(SELECT workflow_id || ':' || status FROM workflow.workflows WHERE workflow_type = 'perkey'
				 ORDER BY workflow_id),
		  ARRAY['k-1:running', 'k-2:queued', 'k-3:running', 'k-4:running'],
		  'max_running_per_key 1: a second run of key a is queued, other keys and no key run');
SELECT workflow.register_workflow('perkey', 'one(jsonb)', '{"max_running_per_key": 2}');
SELECT is((SELECT status FROM workflow.workflows WHERE workflow_id = 'k-2'), 'running',
		  'registering the type again with a higher limit starts the queued run that now fits');

SELECT * FROM finish();
ROLLBACK;
