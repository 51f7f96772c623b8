"""Clients: start workflows, wait for their results, steer them.

AsyncClient (asyncio) and Client (blocking) offer the same methods over the
public SQL functions of the extension (schema ``workflow``).  Each takes a
libpq conninfo string (``"dbname=shop"``; ``""`` for the PG* environment),
a pool (psycopg_pool's, or anything whose ``connection()`` is a context
manager yielding a connection) or a psycopg connection that it borrows.
"""
import contextlib
import datetime
import json

import psycopg

from .errors import WorkflowFailed, translated

__all__ = ["AsyncClient", "Client"]


def _interval(value):
    """A timeout (seconds, a timedelta or None) as an interval literal."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, (int, float)):
        return f"{float(value)} seconds"
    return str(value)


def _options(options):
    """start()'s keyword options as the jsonb of start_workflow (timedeltas as intervals)."""
    out = {}
    for key, value in options.items():
        if isinstance(value, datetime.timedelta):
            value = _interval(value)
        out[key] = value
    return json.dumps(out)


def _json(value):
    return None if value is None else json.dumps(value)


# (SQL, parameters) of each call; shared by both clients.
def _start(workflow_type, input, id, options):
    return ("SELECT workflow.start_workflow(%s, %s::jsonb, %s, %s::jsonb)",
            (workflow_type, json.dumps({} if input is None else input), id, _options(options)))


def _await(workflow_id, timeout):
    return ("SELECT workflow.await_result(%s, %s::interval)", (workflow_id, _interval(timeout)))


def _status(workflow_id):
    return ("SELECT workflow.describe(%s)->>'status'", (workflow_id,))


class ResultTimeout(TimeoutError):
    """result() waited ``timeout`` and the run is still open."""


def _timed_out(workflow_id, timeout):
    return ResultTimeout(f"workflow {workflow_id!r} still open after {_interval(timeout)}")


class _Calls:
    """The SQL of each method; subclasses run it."""

    def _borrow(self, conninfo_or_pool):
        self._conninfo = self._pool = self._given = None
        if conninfo_or_pool is None or isinstance(conninfo_or_pool, str):
            self._conninfo = conninfo_or_pool or ""
        elif hasattr(conninfo_or_pool, "connection") and not hasattr(conninfo_or_pool, "cursor"):
            self._pool = conninfo_or_pool
        else:
            self._given = conninfo_or_pool


class AsyncClient(_Calls):
    """asyncio client.  ``async with AsyncClient("dbname=shop") as c: ...``"""

    def __init__(self, conninfo_or_pool=None, *, application_name="pgworkflow"):
        self._borrow(conninfo_or_pool)
        self._application_name = application_name
        self._conn = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def close(self):
        """Close the connection the client opened (not a given one or a pool's)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _connect(self):
        return await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=self._application_name)

    @contextlib.asynccontextmanager
    async def _connection(self, conn=None, dedicated=False):
        if conn is not None:
            yield conn
        elif self._given is not None:
            yield self._given
        elif self._pool is not None:
            async with self._pool.connection() as c:
                yield c
        elif dedicated:
            c = await self._connect()
            try:
                yield c
            finally:
                await c.close()
        else:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = await self._connect()
            try:
                yield self._conn
            except psycopg.OperationalError:
                await self.close()  # reconnect at the next call
                raise

    async def _one(self, query, conn=None, dedicated=False):
        async with self._connection(conn, dedicated) as c, translated():
            cur = await c.execute(*query)
            return await cur.fetchone()

    async def start(self, workflow_type, input=None, id=None, *, conn=None, **options):
        """Start a run; returns its workflow_id.  With ``conn``, in that connection's
        current transaction (it rolls back with it).  ``options``: start_workflow's
        (queue, execution_timeout, search_attributes, if_exists, priority, ...)."""
        return (await self._one(_start(workflow_type, input, id, options), conn))[0]

    async def result(self, workflow_id, timeout=None):
        """Wait for the run to close and return its result (workflow.await_result).
        Raises WorkflowFailed (with .status) if it did not complete, ResultTimeout
        after ``timeout`` (seconds or a timedelta; None waits without end)."""
        result = (await self._one(_await(workflow_id, timeout), dedicated=True))[0]
        # NULL: a completed run's NULL result, or the timeout (the run is open).
        if result is None and (await self._one(_status(workflow_id)))[0] != "completed":
            raise _timed_out(workflow_id, timeout)
        return result

    async def signal(self, workflow_id, signal, payload=None, *, conn=None):
        await self._one(("SELECT workflow.signal_workflow(%s, %s, %s::jsonb)",
                         (workflow_id, signal, _json(payload))), conn)

    async def cancel(self, workflow_id, reason=None, *, conn=None):
        await self._one(("SELECT workflow.cancel_workflow(%s, %s)", (workflow_id, reason)), conn)

    async def terminate(self, workflow_id, reason=None, *, conn=None):
        await self._one(("SELECT workflow.terminate_workflow(%s, %s)", (workflow_id, reason)), conn)

    async def describe(self, workflow_id):
        return (await self._one(("SELECT workflow.describe(%s)", (workflow_id,))))[0]

    async def get_state(self, workflow_id, key):
        return (await self._one(("SELECT workflow.get_state(%s, %s)", (workflow_id, key))))[0]


class Client(_Calls):
    """Blocking client, the same methods as AsyncClient.  ``with Client("dbname=shop") as c: ...``"""

    def __init__(self, conninfo_or_pool=None, *, application_name="pgworkflow"):
        self._borrow(conninfo_or_pool)
        self._application_name = application_name
        self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect(self):
        return psycopg.connect(self._conninfo, autocommit=True,
                               application_name=self._application_name)

    @contextlib.contextmanager
    def _connection(self, conn=None, dedicated=False):
        if conn is not None:
            yield conn
        elif self._given is not None:
            yield self._given
        elif self._pool is not None:
            with self._pool.connection() as c:
                yield c
        elif dedicated:
            with self._connect() as c:
                yield c
        else:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = self._connect()
            try:
                yield self._conn
            except psycopg.OperationalError:
                self.close()
                raise

    def _one(self, query, conn=None, dedicated=False):
        with self._connection(conn, dedicated) as c, translated():
            return c.execute(*query).fetchone()

    def start(self, workflow_type, input=None, id=None, *, conn=None, **options):
        return self._one(_start(workflow_type, input, id, options), conn)[0]

    def result(self, workflow_id, timeout=None):
        result = self._one(_await(workflow_id, timeout), dedicated=True)[0]
        if result is None and self._one(_status(workflow_id))[0] != "completed":
            raise _timed_out(workflow_id, timeout)
        return result

    def signal(self, workflow_id, signal, payload=None, *, conn=None):
        self._one(("SELECT workflow.signal_workflow(%s, %s, %s::jsonb)",
                   (workflow_id, signal, _json(payload))), conn)

    def cancel(self, workflow_id, reason=None, *, conn=None):
        self._one(("SELECT workflow.cancel_workflow(%s, %s)", (workflow_id, reason)), conn)

    def terminate(self, workflow_id, reason=None, *, conn=None):
        self._one(("SELECT workflow.terminate_workflow(%s, %s)", (workflow_id, reason)), conn)

    def describe(self, workflow_id):
        return self._one(("SELECT workflow.describe(%s)", (workflow_id,)))[0]

    def get_state(self, workflow_id, key):
        return self._one(("SELECT workflow.get_state(%s, %s)", (workflow_id, key)))[0]


__all__ += ["ResultTimeout", "WorkflowFailed"]
