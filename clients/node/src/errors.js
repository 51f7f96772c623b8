// Typed errors for the engine's SQLSTATEs (README.md, "Errors").

/** Base class of every error this library raises for the engine. */
export class WorkflowError extends Error {
  constructor(message, { code, detail, hint, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = this.constructor.name;
    this.code = code;
    this.detail = detail;
    this.hint = hint;
  }
}

/** WF001: an activity failed for good. */
export class ActivityFailed extends WorkflowError {}

/** WF013: the awaited run ended other than completed; `status` names how. */
export class WorkflowFailed extends WorkflowError {
  constructor(message, opts = {}) {
    super(message, opts);
    const m = /status "([^"]+)"/.exec(message);
    this.status = m ? m[1] : undefined;
    const d = /^Run (\S+) ended with error (.*)\.$/s.exec(opts.detail ?? '');
    this.runId = d ? d[1] : undefined;
    this.error = undefined;
    if (d) {
      try { this.error = JSON.parse(d[2]); } catch { this.error = d[2]; }
    }
    // A run failed by an activity that failed for good: that failure, typed.
    this.activityFailure = this.error?.sqlstate === 'WF001'
      ? new ActivityFailed(this.error.message, { code: 'WF001', detail: this.error.detail, hint: this.error.hint })
      : undefined;
  }
}

/** WF011: start of an id that is already running. */
export class AlreadyRunning extends WorkflowError {}

/** WF012: steering a workflow that is not running. */
export class NotRunning extends WorkflowError {}

/** WF010: a report about a task the worker no longer holds. */
export class LateReport extends WorkflowError {}

/** 42704: an unknown workflow (or one of a role this role cannot see). */
export class NotFound extends WorkflowError {}

/** 42501: not yours, or a queue not granted. */
export class PermissionDenied extends WorkflowError {}

/** 22023, 22004, 42602, 54000: an argument the engine refused. */
export class InvalidArgument extends WorkflowError {}

/** result({timeout}) ran out before the run closed. */
export class ResultTimeout extends WorkflowError {}

/** Thrown by an activity to fail its attempt for good (no retry). */
export class NonRetryableError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

const BY_SQLSTATE = {
  WF001: ActivityFailed,
  WF010: LateReport,
  WF011: AlreadyRunning,
  WF012: NotRunning,
  WF013: WorkflowFailed,
  42704: NotFound,
  42501: PermissionDenied,
  22023: InvalidArgument,
  22004: InvalidArgument,
  42602: InvalidArgument,
  54000: InvalidArgument,
};

/** The typed error for a pg error, or the error itself when its SQLSTATE is not the engine's. */
export function mapError(e) {
  const Type = e && typeof e.code === 'string' ? BY_SQLSTATE[e.code] : undefined;
  if (!Type) return e;
  return new Type(e.message, { code: e.code, detail: e.detail, hint: e.hint, cause: e });
}
