// Type declarations of pgworkflow (written by hand; the code is src/*.js).

/** What pg's Pool, PoolClient and Client have in common, as far as this library uses it. */
export interface Queryable {
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

/** pg's connection settings (pg.ClientConfig). */
export interface ConnectionConfig {
  connectionString?: string;
  [setting: string]: unknown;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };


export interface StartOptions {
  /** The workflow_id (default: a generated UUID). */
  id?: string | null;
  /** Run start_workflow on this connection (in the caller's transaction). */
  client?: Queryable;
  queue?: string;
  execution_timeout?: string;
  search_attributes?: { [key: string]: Json };
  activity_options?: { [key: string]: Json };
  if_exists?: 'error' | 'return';
  concurrency_key?: string;
  priority?: number;
  /** Any other option of workflow.start_workflow. */
  [option: string]: unknown;
}

export interface OnConnection {
  client?: Queryable;
}

export class Client {
  /** A connection string (postgres:// URL or libpq key=value), a pg config object, or the caller's pg.Pool / pg.Client. */
  constructor(conn?: string | ConnectionConfig | Queryable);
  start(workflowType: string, input?: Json, options?: StartOptions): Promise<string>;
  /** The result of the latest run once it closes; timeout in milliseconds. */
  result<T = Json>(workflowId: string, options?: { timeout?: number }): Promise<T>;
  signal(workflowId: string, signal: string, payload?: Json, options?: OnConnection): Promise<void>;
  cancel(workflowId: string, reason?: string | null, options?: OnConnection): Promise<void>;
  terminate(workflowId: string, reason?: string | null, options?: OnConnection): Promise<void>;
  describe(workflowId: string, options?: OnConnection): Promise<{ [key: string]: any }>;
  getState<T = Json>(workflowId: string, key: string, options?: OnConnection): Promise<T | null>;
  /** Close the pool this client made (never one passed in). */
  close(): Promise<void>;
}

export interface ActivityContext {
  taskId: string;
  activityId: string;
  workflowId: string;
  runId: string;
  activity: string;
  queue: string;
  attempt: number;
  workerId: string;
  /** Aborted when a heartbeat learns of cancellation, when the lease is lost, and at shutdown after the grace period. */
  signal: AbortSignal;
  /** Whether a heartbeat has learnt that the workflow asks the activity to stop. */
  readonly cancelled: boolean;
  /** workflow.heartbeat_activity: resolves to true when the activity should stop. */
  heartbeat(details?: Json): Promise<boolean>;
}

export type Activity = (input: any, ctx: ActivityContext) => unknown | Promise<unknown>;

export interface WorkerOptions {
  /** A postgres:// URL or a libpq key=value string (host, port, dbname, user, password, application_name, connect_timeout, options, sslmode). */
  connectionString?: string;
  /** Any other pg connection settings. */
  connection?: ConnectionConfig;
  queues: string | string[];
  /** Activities run at once (default 8). */
  concurrency?: number;
  activities?: { [name: string]: Activity };
  /** Milliseconds between claims without a notification (default 10000). */
  pollInterval?: number;
  /** Milliseconds running activities get after SIGTERM/SIGINT or shutdown() (default 30000). */
  grace?: number;
  /** Report successes with complete_and_claim (default true). */
  eager?: boolean;
  workerId?: string;
  /** SIGTERM and SIGINT stop the worker (default true). */
  handleSignals?: boolean;
  /** Stop after this many tasks (default 0: no limit). */
  maxTasks?: number;
  /** Stop once every queue was found empty (default false). */
  once?: boolean;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
}

export interface WorkerStats {
  completed: number;
  failed: number;
  /** Reports refused as late (WF010) or tasks whose lease was lost. */
  late: number;
  /** Outcomes that could not be reported at shutdown (no connection). */
  abandoned: number;
}

export class Worker {
  constructor(options: WorkerOptions);
  activity(name: string, fn: Activity): this;
  activity(activities: { [name: string]: Activity }): this;
  /** Runs until shutdown() or SIGTERM/SIGINT. */
  run(): Promise<WorkerStats>;
  /** Stop claiming; running activities finish (up to grace) and are reported. */
  shutdown(): void;
}

export class WorkflowError extends Error {
  code?: string;
  detail?: string;
  hint?: string;
}
/** WF001 */
export class ActivityFailed extends WorkflowError {}
/** WF013: the awaited run ended `status` (failed, cancelled, terminated, timed_out, compensated, ...). */
export class WorkflowFailed extends WorkflowError {
  status?: string;
  runId?: string;
  /** The run's error, parsed from the detail. */
  error?: any;
  /** Set when the run failed because an activity failed for good. */
  activityFailure?: ActivityFailed;
}
/** WF011 */
export class AlreadyRunning extends WorkflowError {}
/** WF012 */
export class NotRunning extends WorkflowError {}
/** WF010 */
export class LateReport extends WorkflowError {}
/** 42704 */
export class NotFound extends WorkflowError {}
/** 42501 */
export class PermissionDenied extends WorkflowError {}
/** 22023, 22004, 42602, 54000 */
export class InvalidArgument extends WorkflowError {}
/** result({timeout}) ran out before the run closed. */
export class ResultTimeout extends WorkflowError {}
/** Thrown by an activity: fail the attempt for good, no retry. */
export class NonRetryableError extends Error {}
/** The typed error for a pg error (the error itself when the SQLSTATE is not the engine's). */
export function mapError(e: unknown): unknown;
