#!/usr/bin/python3
"""A minimal activity worker with pgworkflow (clients/python).

usage: worker.py [CONNINFO] [--queue Q] [--batch N] [--poll S] [--max-tasks N] [--once]

Runs Greet and Shout for the queue; an exception fails the activity
(retryably, unless it is a NonRetryableError).  Exits 0 on SIGTERM or
SIGINT after reporting the tasks it runs.
"""
import argparse, logging, sys
from pgworkflow import NonRetryableError, Worker

HANDLERS = {}  # more activities, name -> fn(input, ctx), may be added before main()


def greet(inp, ctx):
    if "name" not in inp:
        raise NonRetryableError("input has no name")
    if inp.get("flaky") and ctx.attempt == 1:  # a transient outage
        raise RuntimeError("greeting service unavailable, try again")
    return {"greeting": f"Hello, {inp['name']}!"}


def shout(inp):
    return {"shout": inp["greeting"].upper()}


def main(argv=None):
    p = argparse.ArgumentParser(description="Minimal workflow activity worker.")
    p.add_argument("conninfo", nargs="?", default="", help="libpq conninfo (default: PG* env)")
    p.add_argument("--queue", default="py_queue")
    p.add_argument("--batch", type=int, default=10, help="activities run at once")
    p.add_argument("--poll", type=float, default=10.0, help="seconds to wait without a NOTIFY")
    p.add_argument("--max-tasks", type=int, default=None, help="exit after running N tasks")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    worker = Worker(a.conninfo, [a.queue], a.batch, poll_interval=a.poll, max_tasks=a.max_tasks,
                    application_name="workflow-example-python")
    for name, fn in {"Greet": greet, "Shout": shout, **HANDLERS}.items():
        worker.register(name, fn)
    worker.run_sync(until_idle=a.once)
    return 0


if __name__ == "__main__":
    sys.exit(main())
