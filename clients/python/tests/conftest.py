"""pytest fixtures: a database with the extension (PG* environment, set by
test/shell/pyclient.sh) and the workflows the tests run."""
import asyncio
import os
import sys

import psycopg
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))                     # pgworkflow from the tree
sys.path.insert(0, os.path.join(REPO, "examples", "python"))     # saga.py

SETUP = r"""
CREATE OR REPLACE FUNCTION py_one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN workflow.activity(input->>'activity', input, input->>'queue',
        coalesce(input->'options', '{}') || '{"retry": {"initial_interval": "200 milliseconds"}}');
END $$;
SELECT workflow.register_workflow('py_one', 'py_one(jsonb)'::regprocedure);
CREATE OR REPLACE FUNCTION py_two(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN workflow.activity('Second', workflow.activity('First', input, input->>'queue'), input->>'queue');
END $$;
SELECT workflow.register_workflow('py_two', 'py_two(jsonb)'::regprocedure);
"""


@pytest.fixture(scope="session")
def conninfo():
    if not os.environ.get("PGDATABASE"):
        pytest.skip("no PGDATABASE: run test/shell/pyclient.sh")
    with psycopg.connect("", autocommit=True) as conn:
        conn.execute(SETUP)
        with open(os.path.join(REPO, "examples", "order", "setup.sql")) as f:
            conn.execute(f.read())
    return ""


@pytest.fixture
def sql(conninfo):
    """Run one query, return the rows."""
    conn = psycopg.connect(conninfo, autocommit=True)

    def run(query, params=None):
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []
    yield run
    conn.close()


async def serving(worker, coro):
    """Run the worker while coro runs; stop it and wait for it after."""
    task = asyncio.ensure_future(worker.run(handle_signals=False))
    try:
        return await coro
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def run():
    """asyncio.run with a 60 s bound."""
    return lambda coro: asyncio.run(asyncio.wait_for(coro, 60))
