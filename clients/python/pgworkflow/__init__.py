"""pgworkflow: Python client and activity worker for the workflow PostgreSQL extension.

    from pgworkflow import AsyncClient, Worker, NonRetryableError

Over the extension's public SQL functions only; psycopg 3.
"""
from ._version import __version__
from .client import AsyncClient, Client, ResultTimeout
from .errors import (ActivityFailed, AlreadyRunning, ChildWorkflowFailed, ExtensionUnavailable,
                     InvalidArgument, LateReport, NonDeterminismError, NotFound, NotRunning,
                     PayloadTooLarge, PermissionDenied, Unusable, WorkflowCancelledError,
                     WorkflowError, WorkflowFailed)
from .worker import ActivityContext, NonRetryableError, Worker

__all__ = [
    "__version__", "AsyncClient", "Client", "ResultTimeout", "Worker", "ActivityContext",
    "NonRetryableError", "WorkflowError", "ActivityFailed", "AlreadyRunning",
    "ChildWorkflowFailed", "ExtensionUnavailable", "InvalidArgument", "LateReport",
    "NonDeterminismError", "NotFound", "NotRunning", "PayloadTooLarge", "PermissionDenied",
    "Unusable", "WorkflowCancelledError", "WorkflowFailed",
]
