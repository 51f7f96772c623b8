#!/bin/sh
# Completes with its input and what the worker told it about the task.
read -r input
printf '{"input": %s, "attempt": %s, "workflow_id": "%s", "activity": "%s", "queue": "%s", "task_id": %s}\n' \
	"$input" "$ATTEMPT" "$WORKFLOW_ID" "$ACTIVITY" "$QUEUE" "$TASK_ID"
