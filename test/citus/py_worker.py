"""A pgworkflow (Python) worker for test/citus/run.sh: serves queue "py"
on the node of its conninfo until SIGTERM.  Echo heartbeats once, then
returns its input, or fails for good when the input asks it to."""
import asyncio
import logging
import sys

from pgworkflow import NonRetryableError, Worker

logging.basicConfig(level=logging.INFO, format="%(message)s")
worker = Worker(sys.argv[1], ["py"], 4, worker_id=sys.argv[2], poll_interval=1)


@worker.activity("Echo")
async def echo(inp, ctx):
    await ctx.heartbeat({"at": "start"})
    if inp.get("fail"):
        raise NonRetryableError("asked to fail")
    return inp


asyncio.run(worker.run())
