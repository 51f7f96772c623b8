"""A worker LISTENing on a queue is notified after start_workflow commits,
never for a start that rolled back, and the NOTIFY is not sent by the
application's own backend (it comes from the scheduler)."""
import select
import sys
import time

import psycopg

CHANNEL = "notify_q"


def notifications(conn, seconds):
    """Collect the notifications that arrive within seconds."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        select.select([conn.fileno()], [], [], max(0.0, deadline - time.monotonic()))
        conn.pgconn.consume_input()
        while (n := conn.pgconn.notifies()) is not None:
            got.append((n.relname.decode(), n.be_pid))
        if got:
            break
    return got


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        sys.exit(1)


def main():
    app = psycopg.connect()
    with app.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS workflow")
        cur.execute("""CREATE OR REPLACE FUNCTION one_step(input jsonb) RETURNS jsonb
                       LANGUAGE plpgsql AS $$ BEGIN
                       RETURN workflow.activity('Step', input, 'notify_q'); END $$""")
        cur.execute("SELECT workflow.register_workflow('one_step', 'one_step(jsonb)')")
    app.commit()
    app_pid = app.info.backend_pid
    for _ in range(100):
        n = app.execute("""SELECT count(*) FROM pg_stat_activity
                           WHERE backend_type = 'workflow scheduler'
                             AND datname = current_database()""").fetchone()[0]
        app.commit()
        if n:
            break
        time.sleep(0.1)
    check(n == 1, "a scheduler serves the database")

    worker = psycopg.connect(autocommit=True)
    worker.execute(f'LISTEN "{CHANNEL}"')

    app.execute("SELECT workflow.start_workflow('one_step', '{}', 'rolled-back')")
    check(notifications(worker, 0.5) == [], "nothing is announced before commit")
    app.rollback()
    check(notifications(worker, 2.0) == [], "a rolled-back start announces nothing")

    app.execute("SELECT workflow.start_workflow('one_step', '{}', 'committed')")
    app.commit()
    got = notifications(worker, 10.0)
    check(len(got) >= 1 and got[0][0] == CHANNEL, "a committed start is announced on its queue")
    check(got[0][1] != app_pid, "the NOTIFY does not come from the application's backend")
    rows = worker.execute("SELECT count(*) FROM workflow.claim_activities(%s, 'w', 10)", (CHANNEL,)).fetchone()
    check(rows[0] == 1, "exactly the committed task is claimable")


if __name__ == "__main__":
    main()
