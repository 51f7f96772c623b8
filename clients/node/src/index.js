// pgworkflow: a client and an activity worker for the workflow PostgreSQL extension.
export { Client } from './client.js';
export { Worker } from './worker.js';
export {
  WorkflowError, ActivityFailed, WorkflowFailed, AlreadyRunning, NotRunning, LateReport,
  NotFound, PermissionDenied, InvalidArgument, ResultTimeout, NonRetryableError, mapError,
} from './errors.js';
