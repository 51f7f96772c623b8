"""Typed errors for the engine's SQLSTATEs (README.md, "Errors").

Every error raised by the client and the worker for a database error is a
WorkflowError (or one of its subclasses), with the SQLSTATE, the message,
the detail and the hint of the server's error, and the psycopg error as
its __cause__.
"""
import json
import re

import psycopg


class WorkflowError(Exception):
    """A database error raised by the workflow extension or the server."""

    sqlstate = None

    def __init__(self, message, sqlstate=None, detail=None, hint=None):
        super().__init__(message)
        self.message = message
        if sqlstate is not None:
            self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


class ActivityFailed(WorkflowError):
    """WF001: an activity failed for good."""
    sqlstate = "WF001"


class WorkflowCancelledError(WorkflowError):
    """WF002: the workflow was cancelled."""
    sqlstate = "WF002"


class NonDeterminismError(WorkflowError):
    """WF003: workflow code does not match its recorded history."""
    sqlstate = "WF003"


class ChildWorkflowFailed(WorkflowError):
    """WF006: a child workflow failed, was cancelled or terminated."""
    sqlstate = "WF006"


class LateReport(WorkflowError):
    """WF010: a report about a task the worker no longer holds."""
    sqlstate = "WF010"


class AlreadyRunning(WorkflowError):
    """WF011: start of an id that is already running."""
    sqlstate = "WF011"


class NotRunning(WorkflowError):
    """WF012: signal, cancel or terminate of a workflow that is not running."""
    sqlstate = "WF012"


class WorkflowFailed(WorkflowError):
    """WF013: the awaited run did not complete.

    ``status`` is how it ended (``failed``, ``cancelled``, ``terminated``,
    ``compensated``, ``timed_out``...), ``error`` the run's error (a dict,
    or None when it ended without one).
    """
    sqlstate = "WF013"

    def __init__(self, message, sqlstate=None, detail=None, hint=None):
        super().__init__(message, sqlstate, detail, hint)
        m = re.search(r'status "([^"]+)"', message or "")
        self.status = m.group(1) if m else None
        self.error = None
        m = re.search(r"with error (.*)\.$", detail or "", re.S)
        if m:
            try:
                self.error = json.loads(m.group(1))
            except ValueError:
                self.error = m.group(1)


class Unusable(WorkflowError):
    """WF014: a schedule, queue option or reset point that does not exist or cannot be used."""
    sqlstate = "WF014"


class NotFound(WorkflowError):
    """42704: an unknown workflow, workflow type or schedule (or one not visible to this role)."""
    sqlstate = "42704"


class PermissionDenied(WorkflowError):
    """42501: not yours, or a queue not granted."""
    sqlstate = "42501"


class InvalidArgument(WorkflowError):
    """A bad argument: 22023 (bad option or value), 22004 (NULL), 42602 (bad queue name)."""


class PayloadTooLarge(InvalidArgument):
    """54000: a payload over 1 MiB."""
    sqlstate = "54000"


class ExtensionUnavailable(WorkflowError):
    """55000 or 0A000: the extension's library and its installed version disagree,
    or await_result without the library preloaded."""


_BY_SQLSTATE = {
    cls.sqlstate: cls
    for cls in (ActivityFailed, WorkflowCancelledError, NonDeterminismError,
                ChildWorkflowFailed, LateReport, AlreadyRunning, NotRunning,
                WorkflowFailed, Unusable, NotFound, PermissionDenied,
                PayloadTooLarge)
}
_BY_SQLSTATE.update({"22023": InvalidArgument, "22004": InvalidArgument,
                     "42602": InvalidArgument, "55000": ExtensionUnavailable,
                     "0A000": ExtensionUnavailable})


def from_psycopg(err):
    """The WorkflowError for a psycopg error (WorkflowError for an unlisted SQLSTATE)."""
    diag = err.diag
    cls = _BY_SQLSTATE.get(err.sqlstate, WorkflowError)
    message = diag.message_primary or str(err)
    return cls(message, err.sqlstate, diag.message_detail, diag.message_hint)


def session_lost(err):
    """Whether a psycopg error means the session is gone, not a refusal."""
    if isinstance(err, psycopg.InterfaceError):      # used after it was closed
        return True
    return isinstance(err, psycopg.OperationalError) and (
        not err.sqlstate or err.sqlstate.startswith(("08", "57P")))


class translated:
    """Context manager: re-raise a psycopg error with a SQLSTATE as a WorkflowError.

    A lost session (no SQLSTATE, class 08, or 57P: the server shut down or
    terminated it) stays a psycopg.OperationalError.
    """

    def __enter__(self):
        return self

    def __exit__(self, typ, err, tb):
        if isinstance(err, psycopg.Error) and not session_lost(err):
            raise from_psycopg(err) from err
        return False

    async def __aenter__(self):
        return self

    async def __aexit__(self, typ, err, tb):
        return self.__exit__(typ, err, tb)
