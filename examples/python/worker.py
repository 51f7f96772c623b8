#!/usr/bin/python3
"""A minimal activity worker for the workflow extension (psycopg 3).

usage: worker.py [CONNINFO] [--queue Q] [--batch N] [--poll S] [--max-tasks N] [--once]

Connects with CONNINFO or the PG* environment, LISTENs on the queue, claims
ready tasks in batches and runs the function that HANDLERS names for each
activity: its return value completes the task; an exception fails it
(retryable, unless it is a Permanent).  Exits 0 on SIGTERM or SIGINT after
reporting the tasks it holds.
"""
import argparse, json, os, select, signal, socket, sys
import psycopg
from psycopg import sql
from psycopg.rows import dict_row


class Permanent(Exception):
    """Raised by a handler to fail its activity for good (no retry)."""


def greet(inp, task):
    if "name" not in inp:
        raise Permanent("input has no name")
    if inp.get("flaky") and task["attempt"] == 1:  # a transient outage
        raise RuntimeError("greeting service unavailable, try again")
    return {"greeting": f"Hello, {inp['name']}!"}


def shout(inp, task):
    return {"shout": inp["greeting"].upper()}


HANDLERS = {"Greet": greet, "Shout": shout}


def run(conn, t):
    """Run one claimed task and report its outcome."""
    try:
        fn = HANDLERS.get(t["activity"])
        if fn is None:
            raise Permanent(f"no handler for activity {t['activity']!r}")
        report = ("SELECT workflow.complete_activity(%s, %s::jsonb)",
                  (t["task_id"], json.dumps(fn(t["input"], t))))
        outcome = "completed"
    except Exception as e:
        retryable = not isinstance(e, Permanent)
        report = ("SELECT workflow.fail_activity(%s, %s, %s)",
                  (t["task_id"], f"{type(e).__name__}: {e}", retryable))
        outcome = f"failed retryable={str(retryable).lower()}: {e}"
    try:
        conn.execute(*report)
    except psycopg.Error as e:
        if e.sqlstate != "WF010":  # WF010: the engine has moved on without us
            raise
        outcome = "late report ignored"
    print(f"task {t['task_id']} {t['activity']} attempt {t['attempt']}: {outcome}",
          file=sys.stderr, flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description="Minimal workflow activity worker.")
    p.add_argument("conninfo", nargs="?", default="", help="libpq conninfo (default: PG* env)")
    p.add_argument("--queue", default="py_queue")
    p.add_argument("--batch", type=int, default=10, help="tasks claimed per query")
    p.add_argument("--poll", type=float, default=10.0, help="seconds to wait without a NOTIFY")
    p.add_argument("--max-tasks", type=int, default=0, help="exit after running N tasks")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    a = p.parse_args(argv)

    stop, woken, done = [], [], 0
    rfd, wfd = os.pipe()  # the signal handler writes here, waking select()
    os.set_blocking(wfd, False)
    signal.set_wakeup_fd(wfd)
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.append(1))
    worker_id = f"py:{socket.gethostname()}:{os.getpid()}"
    with psycopg.connect(a.conninfo, autocommit=True, row_factory=dict_row,
                         application_name="workflow-example-python") as conn:
        conn.add_notify_handler(lambda n: woken.append(n))  # NOTIFYs seen mid-query
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(a.queue)))
        while not stop and not (a.max_tasks and done >= a.max_tasks):
            woken.clear()
            n = min(a.batch, a.max_tasks - done) if a.max_tasks else a.batch
            tasks = conn.execute(
                "SELECT task_id, activity_id, activity, input, attempt"
                " FROM workflow.claim_activities(%s, %s, %s)", (a.queue, worker_id, n)).fetchall()
            for t in tasks:  # on SIGTERM, still report what we hold
                run(conn, t)
            done += len(tasks)
            if tasks or woken or stop:
                continue
            if a.once:
                break
            ready, _, _ = select.select([conn.fileno(), rfd], [], [], a.poll)
            if conn.fileno() in ready:  # read and drop the notifications
                conn.pgconn.consume_input()
                while conn.pgconn.notifies():
                    pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
