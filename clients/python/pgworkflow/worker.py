"""Worker: run activities registered by name for one or more queues.

    worker = Worker("dbname=shop", queues=["payments"], concurrency=8)

    @worker.activity("ChargePayment")
    async def charge(input, ctx):
        ...                      # ctx.activity_id is the idempotency key
        return {"charge": "CH-1"}

    worker.run_sync()            # or: await worker.run()

How it works (README.md, "Activity workers"): a listener connection
LISTENs on each queue's channel; a work connection claims with
claim_activities and reports with complete_and_claim (eager dispatch: the
next step on a queue this worker serves comes back in the same call) or
fail_activity.  Claims are bound to the claiming session, so every claim,
heartbeat and report goes through that one work connection.  Without a
notification the worker polls every ``poll_interval`` seconds.  When the
server goes away it reconnects with backoff; activities keep running and
report once it is back (a report the engine no longer wants, WF010, is
dropped with a log line).  SIGTERM/SIGINT stop claiming, let running
activities finish and report (for up to ``shutdown_grace`` seconds; then
they are cancelled and reported as failed, retryable), and return.
"""
import asyncio
import concurrent.futures
import inspect
import json
import logging
import os
import signal
import socket
import threading
import time

import psycopg
from psycopg import sql

from .errors import LateReport, WorkflowError, from_psycopg, session_lost

__all__ = ["Worker", "NonRetryableError", "ActivityContext"]

log = logging.getLogger("pgworkflow")

_TASK_COLUMNS = ("task_id, activity_id, workflow_id, run_id, queue, activity, input, attempt, "
                 "lease_expires_at, heartbeat_timeout, start_to_close_timeout")


# Seconds after a notification whose claim found nothing to claim again.
_RECHECKS = (0.05, 0.25, 1.0)


class NonRetryableError(Exception):
    """Raise it in an activity to fail the activity for good (no retry)."""


class _Task:
    __slots__ = [c.strip() for c in _TASK_COLUMNS.split(",")]

    def __init__(self, row):
        for name, value in zip(self.__slots__, row):
            setattr(self, name, value)


class ActivityContext:
    """What an activity knows about its task.

    ``activity_id`` (the same for every attempt: the idempotency key),
    ``attempt``, ``workflow_id``, ``run_id``, ``task_id``, ``activity``,
    ``queue``; ``cancelled``: an event set when the workflow asks the
    activity to stop (seen by a heartbeat) or the worker shuts down after
    its grace period.  For an ``async def`` activity it is an asyncio.Event
    and ``await ctx.heartbeat(details)`` returns whether to stop; for a
    plain function (run in a thread) a threading.Event and
    ``ctx.heartbeat(details)`` blocks.
    """

    def __init__(self, worker, task, threaded):
        self._worker = worker
        self._task = task
        self._threaded = threaded
        self._loop = asyncio.get_running_loop()
        self.task_id = task.task_id
        self.activity_id = task.activity_id
        self.activity = task.activity
        self.attempt = task.attempt
        self.workflow_id = task.workflow_id
        self.run_id = task.run_id
        self.queue = task.queue
        self.cancelled = threading.Event() if threaded else asyncio.Event()

    @property
    def is_cancelled(self):
        return self.cancelled.is_set()

    def _cancel(self):
        self.cancelled.set()

    def heartbeat(self, details=None):
        """Extend the lease and store ``details``; returns True when the activity should stop."""
        coro = self._worker._heartbeat(self, details)
        if self._threaded:
            return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        return coro


def _wants_context(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class Worker:
    """Runs registered activities for ``queues``, up to ``concurrency`` at once.

    ``max_tasks``: stop after running that many tasks (None: no limit).
    ``shutdown_grace``: seconds a stopping worker lets its activities finish.
    """

    def __init__(self, conninfo="", queues=("default",), concurrency=8, *,
                 worker_id=None, poll_interval=5.0, max_tasks=None, shutdown_grace=30.0,
                 application_name="pgworkflow-worker", max_backoff=10.0):
        if isinstance(queues, str):
            queues = [queues]
        if not queues:
            raise ValueError("a worker needs at least one queue")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.conninfo = conninfo
        self.queues = list(queues)
        self.concurrency = concurrency
        self.worker_id = worker_id or f"py:{socket.gethostname()}:{os.getpid()}"
        self.poll_interval = poll_interval
        self.max_tasks = max_tasks
        self.shutdown_grace = shutdown_grace
        self.application_name = application_name
        self.max_backoff = max_backoff
        self.tasks_run = 0
        self._activities = {}
        self._conn = None
        self._listener = None
        self._routed = False
        self._inflight = {}
        self._claimed = 0
        self._stopping = False
        self._stop_when_idle = False

    # -- registration ---------------------------------------------------

    def activity(self, name=None):
        """Decorator: register the function as the activity ``name`` (default: its name).

        The function takes ``(input)`` or ``(input, ctx)``; ``async def`` runs on the
        event loop, a plain function in a thread.  Its return value (JSON-encodable)
        completes the task; an exception fails it, retryably unless it is a
        NonRetryableError.
        """
        if callable(name):
            return self.activity()(name)

        def register(fn):
            self.register(name or fn.__name__, fn)
            return fn
        return register

    def register(self, name, fn):
        """Register ``fn`` as the activity ``name`` (the non-decorator form)."""
        self._activities[name] = fn

    # -- running --------------------------------------------------------

    def run_sync(self, until_idle=False):
        """Blocking run (asyncio.run(self.run())); returns when stopped."""
        return asyncio.run(self.run(until_idle=until_idle))

    def stop(self):
        """Ask the worker to stop: no more claims; running activities finish and report."""
        if not self._stopping:
            log.info("worker %s stopping (%d in flight)", self.worker_id, len(self._inflight))
            self._stop_deadline = time.monotonic() + self.shutdown_grace
        self._stopping = True
        self._wakeup()

    async def run(self, until_idle=False, handle_signals=True):
        """Serve until stop(), SIGTERM or SIGINT (or, with ``until_idle``, until the
        queues are empty and nothing runs; or until ``max_tasks`` ran)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._cancelled_all = False
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._stop_when_idle = until_idle
        self._executor = concurrent.futures.ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="pgworkflow-activity")
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for s in signals:
            self._loop.add_signal_handler(s, self.stop)
        try:
            await self._serve_with_reconnect()
        finally:
            for s in signals:
                self._loop.remove_signal_handler(s)
            await self._disconnect()
            self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("worker %s stopped after %d tasks", self.worker_id, self.tasks_run)

    async def _serve_with_reconnect(self):
        """Serve, and reconnect when the server goes away, until stopped and
        every running activity has reported (a stopping worker reconnects too)."""
        backoff = 0.1
        while not (self._stopping and not self._inflight):
            try:
                await self._connect()
                backoff = 0.1
                await self._serve()
            except psycopg.OperationalError as e:
                log.warning("connection lost: %s; reconnecting in %.1fs",
                            str(e).strip().splitlines()[0] if str(e).strip() else e, backoff)
                await self._disconnect()
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _connect(self):
        kw = dict(autocommit=True, application_name=self.application_name)
        self._conn = await psycopg.AsyncConnection.connect(self.conninfo, **kw)
        # Reports name their task's run (the overloads with workflow_id last: on a
        # Citus cluster their first read is on the run's shard), when the server
        # has them; an older extension is sent the reports without it.
        cur = await self._conn.execute(
            "SELECT pg_catalog.to_regprocedure('workflow.complete_activity(bigint,jsonb,text)') IS NOT NULL")
        self._routed = bool((await cur.fetchone())[0])
        listener = await psycopg.AsyncConnection.connect(self.conninfo, **kw)
        self._listener = listener
        self._listen_fd = listener.fileno()
        for q in self.queues:
            await listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(q)))
        self._listener_lost = None
        self._notified = False
        self._loop.add_reader(self._listen_fd, self._on_listener_readable)
        self._connected.set()
        log.info("worker %s connected, serving %s", self.worker_id, ",".join(self.queues))

    async def _disconnect(self):
        self._connected.clear()
        if self._listener is not None:
            self._loop.remove_reader(self._listen_fd)
            await self._listener.close()
            self._listener = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _on_listener_readable(self):
        pgconn = self._listener.pgconn
        try:
            pgconn.consume_input()
            while (n := pgconn.notifies()) is not None:
                log.debug("notified on %s", n.relname.decode(errors="replace"))
                self._notified = True
        except psycopg.Error as e:
            self._listener_lost = psycopg.OperationalError(f"listener: {e}")
            self._loop.remove_reader(self._listen_fd)
        self._wakeup()

    def _wakeup(self):
        if getattr(self, "_wake", None) is not None:
            self._wake.set()

    async def _sleep(self, seconds):
        self._wake.clear()
        await self._wait_wake(seconds)

    async def _wait_wake(self, seconds):
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def _budget(self):
        """How many more tasks this worker may claim now."""
        free = self.concurrency - len(self._inflight)
        if self.max_tasks is not None:
            free = min(free, self.max_tasks - self._claimed)
        return max(free, 0)

    async def _serve(self):
        rechecks = []
        while True:
            if self._listener_lost is not None:
                raise self._listener_lost
            self._wake.clear()
            notified, self._notified = self._notified, False
            if self._stopping:
                if not self._inflight:
                    return
                self._cancel_after_grace()
                await self._wait_wake(0.5)
                continue
            got = 0
            for q in self.queues:
                n = self._budget()
                if n == 0:
                    break
                got += len(self._start_tasks(await self._claim(q, n)))
            if got:
                continue
            if notified:
                # A notification that found nothing: look again shortly.  The engine
                # may announce a retry a moment before its task can be claimed, and
                # does not announce it again.
                rechecks = list(_RECHECKS)
            if self.max_tasks is not None and self._claimed >= self.max_tasks and not self._inflight:
                self.stop()
            elif self._stop_when_idle and not self._inflight:
                self.stop()
            else:
                await self._wait_wake(rechecks.pop(0) if rechecks else self.poll_interval)

    async def _claim(self, queue, n):
        try:
            cur = await self._conn.execute(
                f"SELECT {_TASK_COLUMNS} FROM workflow.claim_activities(%s, %s, %s)",
                (queue, self.worker_id, n))
            tasks = [_Task(r) for r in await cur.fetchall()]
            log.debug("claimed %d of %d on %s", len(tasks), n, queue)
            return tasks
        except psycopg.Error as e:
            if session_lost(e):
                raise
            raise from_psycopg(e) from e

    def _start_tasks(self, tasks):
        for t in tasks:
            self._claimed += 1
            fut = asyncio.ensure_future(self._execute(t))
            self._inflight[t.task_id] = fut
            fut.add_done_callback(lambda f, t=t: self._task_done(t, f))
        return tasks

    def _cancel_after_grace(self):
        """Once the shutdown grace is over, cancel the activities still running
        (they are reported failed, retryably)."""
        if self._cancelled_all or time.monotonic() < self._stop_deadline:
            return
        log.warning("grace period over: cancelling %d task(s)", len(self._inflight))
        self._cancelled_all = True
        for fut in list(self._inflight.values()):
            fut.cancel()

    # -- one task -------------------------------------------------------

    def _task_done(self, t, fut):
        self._inflight.pop(t.task_id, None)
        self.tasks_run += 1
        if not fut.cancelled() and fut.exception() is not None:
            log.error("task %s %s: %r", t.task_id, t.activity, fut.exception())
        self._wakeup()

    async def _execute(self, t):
        fn = self._activities.get(t.activity)
        threaded = fn is not None and not (inspect.iscoroutinefunction(fn) or
                                           inspect.iscoroutinefunction(getattr(fn, "__call__", None)))
        ctx = ActivityContext(self, t, threaded)
        try:
            if fn is None:
                raise NonRetryableError(f"no activity {t.activity!r} registered in this worker")
            args = (t.input, ctx) if _wants_context(fn) else (t.input,)
            if threaded:
                result = await self._loop.run_in_executor(self._executor, lambda: fn(*args))
            else:
                result = fn(*args)
            if inspect.isawaitable(result):    # an async callable object, say
                result = await result
            try:
                encoded = json.dumps(result)
            except (TypeError, ValueError) as e:
                raise NonRetryableError(f"result is not JSON: {e}") from e
        except asyncio.CancelledError:
            if ctx.is_cancelled:                 # the activity stopped when asked to
                await self._report_failure(t, "activity cancelled", False, {"type": "Cancelled"})
                return
            ctx._cancel()                        # the shutdown grace is over
            await self._report_failure(t, "worker shut down before the activity finished", True,
                                       {"type": "Shutdown"})
            return
        except Exception as e:
            retryable = not isinstance(e, NonRetryableError)
            if ctx.is_cancelled:
                retryable = False
            await self._report_failure(t, f"{type(e).__name__}: {e}", retryable,
                                       {"type": type(e).__name__}, str(e))
            return
        await self._report_success(t, encoded)

    async def _report_success(self, t, encoded):
        try:
            if self._stopping or not self._claim_allowed():
                await self._report(t, "SELECT workflow.complete_activity(%s, %s::jsonb{run})",
                                   (t.task_id, encoded), "completed")
                return
            # Eager dispatch: complete and claim this slot's next task in one call.
            rows = await self._report(
                t, f"SELECT {_TASK_COLUMNS} FROM workflow.complete_and_claim(%s, %s::jsonb, %s, %s, 1{{run}})",
                (t.task_id, encoded, t.queue, self.worker_id), "completed")
        except WorkflowError as e:
            # The result itself was refused (over 1 MiB, say): fail the attempt for
            # good rather than leave the task to its lease and retry it forever.
            await self._report_failure(t, f"result refused: {e}", False, {"sqlstate": e.sqlstate})
            return
        if rows:
            self._start_tasks([_Task(r) for r in rows])

    def _claim_allowed(self):
        return self.max_tasks is None or self._claimed < self.max_tasks

    async def _report_failure(self, t, error, retryable, details, message=None):
        try:
            await self._report(t, "SELECT workflow.fail_activity(%s, %s, %s, %s::jsonb{run})",
                               (t.task_id, error[:10000], retryable, json.dumps(details)),
                               f"failed retryable={str(retryable).lower()}: {message or error}")
        except WorkflowError:
            pass  # logged by _report; the lease brings the task back

    def _routed_report(self, query, params, workflow_id):
        """The report query (its ``{run}`` placeholder filled) and params: naming
        the task's run as last argument where the server has those overloads."""
        if self._routed:
            return query.format(run=", %s"), (*params, workflow_id)
        return query.format(run=""), params

    async def _report(self, t, query, params, outcome):
        """Run a report on the work connection; returns its rows.  A lost connection
        is waited for (the main loop reconnects) and the report made again; a late
        report is dropped; a refused one raises its WorkflowError."""
        label = f"task {t.task_id} {t.activity} attempt {t.attempt}"
        query, params = self._routed_report(query, params, t.workflow_id)
        for _ in range(30):
            conn = self._conn
            if conn is None or conn.closed or not self._connected.is_set():
                try:
                    await asyncio.wait_for(self._connected.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                cur = await conn.execute(query, params)
                rows = await cur.fetchall() if cur.description else []
                log.info("%s: %s", label, outcome)
                return rows
            except psycopg.Error as e:
                if e.sqlstate == LateReport.sqlstate:
                    log.info("%s: late report ignored (WF010: the engine moved on)", label)
                    return []
                if session_lost(e):
                    self._wakeup()
                    await asyncio.sleep(0.2)
                    continue
                err = from_psycopg(e)
                log.error("%s: report refused: %s (%s)", label, err, err.sqlstate)
                raise err from e
        log.error("%s: %s, but could not report it (no connection)", label, outcome)
        return []

    async def _heartbeat(self, ctx, details):
        if self._conn is None or not self._connected.is_set():
            return ctx.is_cancelled
        try:
            cur = await self._conn.execute(*self._routed_report(
                "SELECT workflow.heartbeat_activity(%s, %s::jsonb{run})",
                (ctx.task_id, None if details is None else json.dumps(details)), ctx.workflow_id))
            stop = bool((await cur.fetchone())[0])
        except psycopg.Error as e:
            if session_lost(e):
                return ctx.is_cancelled
            if e.sqlstate != LateReport.sqlstate:
                raise from_psycopg(e) from e
            log.info("task %s %s attempt %s: heartbeat refused (WF010): stop",
                     ctx.task_id, ctx.activity, ctx.attempt)
            stop = True
        if stop:
            ctx._cancel()
        return stop
