-- Each order: its status, then its history as a timeline.
\pset footer off
SELECT workflow_id AS "order", status, error->>'message' AS "error"
  FROM workflow.workflows ORDER BY workflow_id;
SELECT workflow_id AS "order",
	   event_id AS "#",
	   -- an attempt's ActivityStarted is written when it ends; show when it started
	   to_char(COALESCE((data->>'started_at')::timestamptz, created_at), 'HH24:MI:SS.MS') AS "at",
	   event_type AS "event",
	   concat_ws(' ', data->>'activity',
				 CASE WHEN data ? 'attempt' THEN 'attempt ' || (data->>'attempt') END,
				 CASE WHEN data ? 'error' THEN '-> ' || COALESCE(data->'error'->>'message', data->>'error') END,
				 CASE WHEN event_type = 'ActivityCompleted' THEN '-> ' || (data->>'result') END,
				 CASE WHEN event_type = 'ActivityFailed' AND NOT (data->>'final')::boolean
					  THEN '(retry at ' || to_char((data->>'next_attempt_at')::timestamptz, 'HH24:MI:SS') || ')' END,
				 CASE WHEN event_type = 'ActivityFailed' AND (data->>'final')::boolean THEN '(final)' END,
				 CASE WHEN event_type IN ('WorkflowCompleted') THEN data->>'result' END) AS "detail"
  FROM workflow.history
 ORDER BY workflow_id, event_id;
