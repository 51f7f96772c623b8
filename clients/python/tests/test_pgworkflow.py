"""pgworkflow against a real server (run by test/shell/pyclient.sh)."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest

import pgworkflow
from pgworkflow import AsyncClient, Client, NonRetryableError, Worker
from conftest import HERE, serving


def one(activity, queue, **extra):
    return {"activity": activity, "queue": queue, **extra}


def wait_until(sql, query, params=None, limit=20):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if sql(query, params)[0][0]:
            return
        time.sleep(0.1)
    raise AssertionError(f"not true after {limit}s: {query} {params}")


def test_start_and_result(conninfo, sql, run):
    worker = Worker(conninfo, ["py_start"], 8, poll_interval=30)

    @worker.activity("Echo")
    async def echo(inp, ctx):
        return {"echo": inp["n"], "attempt": ctx.attempt, "workflow_id": ctx.workflow_id}

    async def scenario():
        async with AsyncClient(conninfo) as client:
            wid = await client.start("py_one", one("Echo", "py_start", n=1), "start-1")
            assert wid == "start-1"
            assert await client.result(wid, 20) == {"echo": 1, "attempt": 1, "workflow_id": "start-1"}
            with pytest.raises(pgworkflow.AlreadyRunning):
                await client.start("py_one", one("Nobody", "py_nobody"), "start-open")
                await client.start("py_one", one("Nobody", "py_nobody"), "start-open")
            with pytest.raises(pgworkflow.ResultTimeout):
                await client.result("start-open", 0.2)
            assert (await client.describe("start-open"))["status"] == "running"
            await client.terminate("start-open", "test")
            with pytest.raises(pgworkflow.WorkflowFailed) as e:
                await client.result("start-open")
            assert e.value.status == "terminated"
            with pytest.raises(pgworkflow.NotRunning):
                await client.cancel("start-open")
            with pytest.raises(pgworkflow.NotFound):
                await client.describe("no-such-run")
            with pytest.raises(pgworkflow.InvalidArgument):
                await client.start("py_one", {}, "bad-options", priority=42)
            # A start in the caller's transaction rolls back with it.
            async with await psycopg.AsyncConnection.connect(conninfo) as conn:
                await client.start("py_one", one("Echo", "py_start", n=2), "start-rolled-back", conn=conn)
                await conn.rollback()
            with pytest.raises(pgworkflow.NotFound):
                await client.describe("start-rolled-back")
        await asyncio.sleep(0)
        # Many at once: a batch runs concurrently (concurrency 8).
        async with AsyncClient(conninfo) as client:
            ids = [await client.start("py_one", one("Echo", "py_start", n=i)) for i in range(20)]
            results = await asyncio.gather(*(client.result(i, 20) for i in ids))
            assert [r["echo"] for r in results] == list(range(20))

    run(serving(worker, scenario()))

    # The blocking client, with the same worker started again.
    with Client(conninfo) as client:
        wid = client.start("py_one", one("Echo", "py_start", n=3))
        assert run(serving(worker, asyncio.to_thread(client.result, wid, 20)))["echo"] == 3
        assert client.describe(wid)["status"] == "completed"


class OnePool:
    """The smallest pool: connection() lends one connection (as psycopg_pool's does)."""

    def __init__(self, conn):
        self.conn, self.lent = conn, 0

    def connection(self):
        pool = self

        class Lend:
            async def __aenter__(self):
                pool.lent += 1
                return pool.conn

            async def __aexit__(self, *exc):
                pass
        return Lend()


def test_client_over_a_pool_and_a_given_connection(conninfo, run):
    async def scenario():
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            pool = OnePool(conn)
            client = AsyncClient(pool)
            wid = await client.start("py_one", one("Nobody", "py_pool"))
            assert (await client.describe(wid))["status"] == "running"
            await client.terminate(wid)
            assert pool.lent == 3
            given = AsyncClient(conn)
            assert (await given.describe(wid))["status"] == "terminated"
            await given.close()
            assert not conn.closed            # a given connection stays the caller's
    run(scenario())


def test_eager_dispatch_and_a_concurrent_batch(conninfo, sql, run):
    worker = Worker(conninfo, ["py_eager"], 4, poll_interval=30)
    claimed = []
    claim = worker._claim

    async def counting_claim(queue, n):
        tasks = await claim(queue, n)
        claimed.append(len(tasks))
        return tasks
    worker._claim = counting_claim
    running = []

    @worker.activity("First")
    async def first(inp):
        # All four run at once, or this times out: a claimed batch is not run serially.
        running.append(inp["n"])
        for _ in range(400):
            if len(running) >= 4:
                return {"n": inp["n"]}
            await asyncio.sleep(0.05)
        raise NonRetryableError(f"only {len(running)} running at once")

    @worker.activity("Second")
    async def second(inp):
        return {"second": inp["n"]}

    async def scenario():
        async with AsyncClient(conninfo) as client:
            # Started in one transaction, so that one claim gets all four.
            async with await psycopg.AsyncConnection.connect(conninfo) as conn:
                ids = [await client.start("py_two", {"queue": "py_eager", "n": i}, conn=conn) for i in range(4)]
            return [await client.result(i, 20) for i in ids]

    assert run(serving(worker, scenario())) == [{"second": i} for i in range(4)]
    # The four Second tasks came with the completions (complete_and_claim), not from a claim.
    assert sum(claimed) == 4, claimed


def test_flaky_activity_is_retried(conninfo, sql, run):
    worker = Worker(conninfo, ["py_flaky"], 2, poll_interval=30)
    seen = []

    @worker.activity("Flaky")
    def flaky(inp, ctx):                       # a plain function: runs in a thread
        seen.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("service unavailable")
        return {"ok": ctx.attempt}

    async def scenario():
        async with AsyncClient(conninfo) as client:
            wid = await client.start("py_one", one("Flaky", "py_flaky"))
            assert await client.result(wid, 20) == {"ok": 3}
            return wid

    wid = run(serving(worker, scenario()))
    assert seen == [1, 2, 3]
    assert sql("SELECT count(*) FROM workflow.history WHERE workflow_id = %s AND event_type = 'ActivityFailed'"
               " AND data::text LIKE '%%ConnectionError: service unavailable%%'", (wid,))[0][0] == 2


def test_non_retryable_failure_fails_the_workflow(conninfo, sql, run):
    worker = Worker(conninfo, ["py_fatal"], 2, poll_interval=30)

    @worker.activity("Fatal")
    async def fatal(inp):
        raise NonRetryableError("card declined")

    async def scenario():
        async with AsyncClient(conninfo) as client:
            wid = await client.start("py_one", one("Fatal", "py_fatal"))
            with pytest.raises(pgworkflow.WorkflowFailed) as e:
                await client.result(wid, 20)
            assert e.value.status == "failed"
            assert "card declined" in json.dumps(e.value.error)
            return wid

    wid = run(serving(worker, scenario()))
    assert sql("SELECT count(*) FROM workflow.history WHERE workflow_id = %s AND event_type = 'ActivityFailed'",
               (wid,))[0][0] == 1


def test_a_refused_result_fails_the_activity(conninfo, sql, run):
    worker = Worker(conninfo, ["py_huge"], 2, poll_interval=30)

    @worker.activity("Huge")
    async def huge(inp):
        return {"blob": "x" * (2 << 20)}       # over the 1 MiB payload limit

    @worker.activity("NotJson")
    async def not_json(inp):
        return {"when": object()}

    async def scenario():
        async with AsyncClient(conninfo) as client:
            for activity, why in (("Huge", "result refused"), ("NotJson", "result is not JSON")):
                wid = await client.start("py_one", one(activity, "py_huge"))
                with pytest.raises(pgworkflow.WorkflowFailed) as e:
                    await client.result(wid, 20)
                assert why in e.value.error["message"], e.value.error

    run(serving(worker, scenario()))


def test_heartbeat_returns_cancellation(conninfo, sql, run):
    worker = Worker(conninfo, ["py_hb"], 2, poll_interval=30)
    beats = []

    @worker.activity("Long")
    async def long(inp, ctx):
        while not await ctx.heartbeat({"beat": len(beats)}):
            beats.append(False)
            await asyncio.sleep(0.1)
        beats.append(True)
        assert ctx.cancelled.is_set()
        raise asyncio.CancelledError  # any exception: the report is a no-op now

    async def scenario():
        async with AsyncClient(conninfo) as client:
            wid = await client.start("py_one", one("Long", "py_hb"))
            while len(beats) < 3:
                await asyncio.sleep(0.05)
            await client.cancel(wid, "customer changed their mind")
            with pytest.raises(pgworkflow.WorkflowFailed) as e:
                await client.result(wid, 20)
            assert e.value.status == "cancelled"
            for _ in range(400):
                if beats[-1]:
                    break
                await asyncio.sleep(0.05)

    run(serving(worker, scenario()))
    assert beats[-1] is True and beats.count(True) == 1


def test_heartbeat_from_a_thread(conninfo, sql, run):
    worker = Worker(conninfo, ["py_hb_thread"], 2, poll_interval=30)
    seen = []

    @worker.activity("LongSync")
    def long_sync(inp, ctx):                   # runs in a thread: heartbeat blocks
        while not ctx.heartbeat({"beats": len(seen)}):
            seen.append(False)
            ctx.cancelled.wait(0.1)
        seen.append(ctx.cancelled.is_set())
        return {}

    async def scenario():
        async with AsyncClient(conninfo) as client:
            wid = await client.start("py_one", one("LongSync", "py_hb_thread"))
            while len(seen) < 3:
                await asyncio.sleep(0.05)
            await client.terminate(wid)
            for _ in range(400):
                if seen[-1]:
                    break
                await asyncio.sleep(0.05)

    run(serving(worker, scenario()))
    assert seen[-1] is True


def test_a_role_steers_and_serves_only_its_own(conninfo, sql, run):
    sql("DROP ROLE IF EXISTS py_mallory")
    sql("CREATE ROLE py_mallory LOGIN")
    with Client(conninfo) as owner:
        wid = owner.start("py_one", one("Nobody", "py_private"))
    mallory = "user=py_mallory"
    with Client(mallory) as client:
        with pytest.raises((pgworkflow.NotFound, pgworkflow.PermissionDenied)):
            client.signal(wid, "approve")
        with pytest.raises(pgworkflow.NotFound):
            client.describe(wid)
    worker = Worker(mallory, ["py_private"], 1, poll_interval=30)
    with pytest.raises(pgworkflow.PermissionDenied):
        run(worker.run(handle_signals=False))
    assert sql("SELECT workflow.describe(%s)->'waiting_on'->0->>'state'", (wid,))[0][0] == "ready"
    with Client(conninfo) as owner:
        owner.terminate(wid)


WORKER_SCRIPT = r"""
import asyncio, logging, sys
sys.path.insert(0, sys.argv[1])
from pgworkflow import Worker
logging.basicConfig(level=logging.INFO, format="%(message)s")
w = Worker("", [sys.argv[2]], 4, poll_interval=1, shutdown_grace=float(sys.argv[4]),
           application_name="pytest-" + sys.argv[2])
@w.activity("Slow")
async def slow(inp, ctx):
    print(f"started attempt {ctx.attempt}", flush=True)
    await asyncio.sleep(float(sys.argv[3]))
    return {"slept": ctx.attempt}
w.run_sync()
"""


def spawn_worker(queue, seconds, grace=30.0):
    return subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, os.path.join(HERE, ".."), queue,
                             str(seconds), str(grace)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigterm_mid_task_reports_it(conninfo, sql):
    proc = spawn_worker("py_term", 2)
    try:
        with Client(conninfo) as client:
            wid = client.start("py_one", one("Slow", "py_term"))
            wait_until(sql, "SELECT workflow.describe(%s)->'waiting_on'->0->>'state' = 'claimed'", (wid,))
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
            assert proc.returncode == 0, out
            assert "Slow attempt 1: completed" in out, out
            assert client.result(wid, 5) == {"slept": 1}
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_after_grace_reports_the_task_failed(conninfo, sql):
    proc = spawn_worker("py_grace", 60, grace=0.5)
    try:
        with Client(conninfo) as client:
            wid = client.start("py_one", one("Slow", "py_grace"))
            wait_until(sql, "SELECT workflow.describe(%s)->'waiting_on'->0->>'state' = 'claimed'", (wid,))
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
            assert proc.returncode == 0, out
            assert "Slow attempt 1: failed retryable=true: worker shut down" in out, out
            last_error = client.describe(wid)["waiting_on"][0]["last_error"]
            assert "worker shut down" in last_error["error"], last_error
            client.terminate(wid)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_reconnect_after_server_restart(conninfo, sql):
    cluster = os.environ.get("WF_CLUSTER_CMD")
    if not cluster:
        pytest.skip("WF_CLUSTER_CMD (tools/cluster.sh) not set")
    proc = spawn_worker("py_restart", 2)
    try:
        with Client(conninfo) as client:
            wid = client.start("py_one", one("Slow", "py_restart"))
            wait_until(sql, "SELECT workflow.describe(%s)->'waiting_on'->0->>'state' = 'claimed'", (wid,))
        subprocess.run([cluster, "restart"], check=True, stdout=subprocess.DEVNULL)
        with Client(conninfo) as client:
            assert client.result(wid, 40)["slept"] in (1, 2)
        assert proc.poll() is None, "the worker exited when the server restarted"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert "connection lost" in out and out.count("connected, serving") >= 2, out
    assert proc.returncode == 0, out


def test_order_saga_with_python_workers(conninfo, sql, run):
    from saga import order_worker
    # Two worker processes' worth: one for the forward steps, one for the rest.
    front = order_worker(conninfo, ["inventory", "payments"], 4, poll_interval=30)
    back = order_worker(conninfo, ["shipping", "notifications"], 4, poll_interval=30)
    ok, bad = (f"py-order-{n}-{uuid.uuid4().hex[:8]}" for n in (1, 3))

    async def scenario():
        async with AsyncClient(conninfo) as client:
            await client.start("order", {"order_id": ok, "items": 2}, ok)
            await client.start("order", {"order_id": bad, "carrier_down": True}, bad)
            assert (await client.result(ok, 30))["tracking"] == f"TRK-{ok}"
            with pytest.raises(pgworkflow.WorkflowFailed) as e:
                try:
                    await client.result(bad, 30)
                except pgworkflow.ResultTimeout:
                    raise AssertionError(json.dumps(await client.describe(bad)))
            assert e.value.status == "compensated"

    run(serving(front, serving(back, scenario())))
    steps = sql("SELECT string_agg(data->>'activity', ',' ORDER BY event_id) FROM workflow.history "
                "WHERE workflow_id = %s AND event_type = 'ActivityCompleted'", (bad,))[0][0]
    assert steps == "ReserveInventory,ChargePayment,RefundPayment,ReleaseInventory", steps
    assert sql("SELECT count(*) FROM workflow.history WHERE workflow_id = %s "
               "AND event_type = 'ActivityFailed' AND data::text LIKE '%%carrier API unavailable%%'",
               (bad,))[0][0] == 3
