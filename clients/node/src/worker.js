// Worker: runs activities claimed from queues, over the public SQL API.
//
// One connection claims, heartbeats and reports (a claim is bound to the
// session that made it), and LISTENs on each queue's channel.  A claimed
// task keeps its slot until its outcome is reported, across reconnects.
import os from 'node:os';
import pg from 'pg';
import { NonRetryableError } from './errors.js';
import { toJsonb } from './client.js';
import { parseConninfo } from './conninfo.js';

const CLAIM_COLUMNS = 'task_id, activity_id, workflow_id, run_id::text AS run_id, queue, activity, input, attempt';
const BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000;
const GIVE_UP_MS = 10000; // at shutdown, how long reports wait for a lost server

/** A pg error that means the connection is gone, not that the statement was refused. */
function isConnectionError(e) {
  if (e instanceof pg.DatabaseError) return e.code.startsWith('08') || e.code.startsWith('57P');
  // A socket error (EPIPE, ECONNRESET, ...) or pg's "Connection terminated", "... not queryable".
  return typeof e.code === 'string' || /connection|not queryable|terminated/i.test(e.message ?? '');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Worker {
  /**
   * @param {object} o connectionString (or any pg config in `connection`),
   *   queues (a name or an array), concurrency (8), activities (a map),
   *   pollInterval ms (10000), grace ms (30000), eager (true), workerId,
   *   handleSignals (true: SIGTERM/SIGINT stop the worker), log (a function of a line).
   */
  constructor(o = {}) {
    this.config = { application_name: 'pgworkflow-worker', keepAlive: true, connectionTimeoutMillis: 10000,
      ...(o.connection ?? {}), ...(o.connectionString ? parseConninfo(o.connectionString) : {}) };
    this.queues = [].concat(o.queues ?? []);
    if (!this.queues.length) throw new TypeError('Worker needs at least one queue');
    this.concurrency = o.concurrency ?? 8;
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1)) throw new TypeError('concurrency must be an integer >= 1');
    this.pollInterval = o.pollInterval ?? 10000;
    this.grace = o.grace ?? 30000;
    this.eager = o.eager ?? true;
    this.handleSignals = o.handleSignals ?? true;
    this.workerId = o.workerId ?? `node:${os.hostname()}:${process.pid}`;
    this.log = o.log ?? ((line) => console.error(`pgworkflow: ${line}`));
    this.maxTasks = o.maxTasks ?? 0; // stop after this many tasks (0: no limit)
    this.once = o.once ?? false;     // stop when every queue is found empty
    this.claimed = 0;
    this.emptyQueues = new Set();
    this.activities = new Map();
    if (o.activities) this.activity(o.activities);

    this.conn = null;          // the connected pg.Client, null while away
    this.routedReports = false; // reports name the task's run (the server has those overloads)
    this.inflight = new Map(); // task_id -> running task
    this.stopping = false;
    this.hurry = false;        // a second signal: skip the rest of the grace period
    this.pending = new Set(this.queues); // queues that may have work to claim
    this.next = 0;             // round robin over the queues
    this.wakeUp = null;
    this.connectedWaiters = [];
    this.stats = { completed: 0, failed: 0, late: 0, abandoned: 0 };
  }

  /** Register fn(input, ctx) for an activity name, or a map of them. */
  activity(name, fn) {
    if (typeof name === 'object') {
      for (const [n, f] of Object.entries(name)) this.activity(n, f);
      return this;
    }
    if (typeof fn !== 'function') throw new TypeError(`activity "${name}": not a function`);
    this.activities.set(name, fn);
    return this;
  }

  wake() {
    const w = this.wakeUp;
    this.wakeUp = null;
    if (w) w();
  }

  /** Resolves after a wake-up or `ms`. */
  idle(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wakeUp = null; resolve('timeout'); }, ms);
      this.wakeUp = () => { clearTimeout(timer); resolve('woken'); };
    });
  }

  /** Run until shutdown() (or SIGTERM/SIGINT); resolves to the counts of outcomes. */
  async run() {
    const onSignal = (sig) => {
      this.log(`${sig}: stopping${this.stopping ? ' now' : ''}`);
      if (this.stopping) this.hurry = true;
      this.shutdown();
    };
    if (this.handleSignals) process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
    try {
      await this.connectLoop(true);
      let pollAt = Date.now() + this.pollInterval;
      while (!this.stopping) {
        if (!this.conn) await this.ensureConnecting();
        if (this.stopping) break;
        if (Date.now() >= pollAt) {
          this.queues.forEach((q) => this.pending.add(q));
          pollAt = Date.now() + this.pollInterval;
        }
        if (this.conn && this.claimable(this.free()) > 0 && this.pending.size > 0) {
          await this.claimOnce();
          continue;
        }
        await this.idle(Math.max(1, pollAt - Date.now()));
      }
      await this.drain();
    } finally {
      if (this.handleSignals) process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      const c = this.conn;
      this.conn = null;
      if (c) await c.end().catch(() => {});
    }
    return this.stats;
  }

  /** Stop claiming; running activities finish (up to `grace` ms) and are reported. */
  shutdown() {
    this.stopping = true;
    this.wake();
    for (const w of this.connectedWaiters.splice(0)) w(); // let reports see the stop
  }

  /** How many of `n` tasks may still be claimed under maxTasks. */
  claimable(n) {
    if (!this.maxTasks) return n;
    const left = this.maxTasks - this.claimed;
    return Math.max(0, Math.min(n, left));
  }

  free() {
    return this.concurrency - this.inflight.size;
  }

  /**
   * A query on the worker's connection, after those sent before it: pg
   * would queue them itself, but that is deprecated (and gone in pg 9).
   */
  exec(c, text, params) {
    const run = (c.pgworkflowTail ?? Promise.resolve()).then(() => c.query(text, params));
    c.pgworkflowTail = run.catch(() => {});
    return run;
  }

  /** Reconnect in the background, once at a time. */
  ensureConnecting() {
    this.connecting ??= this.connectLoop(false).catch(() => {}).finally(() => { this.connecting = null; });
    return this.connecting;
  }

  async connectLoop(first) {
    let delay = BACKOFF_MIN_MS;
    while (!this.stopping || this.inflight.size) {
      try {
        await this.connect();
        return;
      } catch (e) {
        this.log(`cannot connect: ${e.message}; retrying in ${delay} ms`);
        if (first && e.code && !isConnectionError(e)) throw e; // bad credentials, no extension: tell the caller
        await sleep(delay);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      }
    }
  }

  async connect() {
    const c = new pg.Client(this.config);
    c.on('error', (e) => this.lost(c, e));
    c.on('end', () => this.lost(c, new Error('connection ended')));
    c.on('notification', (n) => {
      if (this.queues.includes(n.channel)) {
        this.pending.add(n.channel);
        this.wake();
      }
    });
    try {
      await c.connect();
      for (const q of this.queues) await this.exec(c, `LISTEN ${c.escapeIdentifier(q)}`);
      // Reports name their task's run (the overloads with workflow_id last: on a
      // Citus cluster their first read is on the run's shard), when the server has
      // them; an older extension is sent the reports without it.
      const { rows } = await this.exec(c,
        "SELECT pg_catalog.to_regprocedure('workflow.complete_activity(bigint,jsonb,text)') IS NOT NULL AS routed");
      this.routedReports = rows[0].routed;
    } catch (e) {
      c.removeAllListeners('end');
      c.end().catch(() => {});
      throw e;
    }
    this.conn = c;
    this.queues.forEach((q) => this.pending.add(q));
    this.log(`connected; worker ${this.workerId} serves ${this.queues.join(', ')} (concurrency ${this.concurrency})`);
    for (const w of this.connectedWaiters.splice(0)) w();
    this.wake();
  }

  lost(c, e) {
    if (this.conn !== c) return;
    this.conn = null;
    this.log(`connection lost: ${e.message}`);
    c.removeAllListeners('end');
    c.end().catch(() => {});
    this.wake();
    this.ensureConnecting();
  }

  /** Resolves when connected again (or at once when stopping and hurried). */
  connected() {
    return this.conn ? Promise.resolve() : new Promise((resolve) => this.connectedWaiters.push(resolve));
  }

  /** Claim what the free slots can run, from the next queue that may have work. */
  async claimOnce() {
    const len = this.queues.length;
    let queue;
    for (let i = 0; i < len && queue === undefined; i++) {
      const q = this.queues[(this.next + i) % len];
      if (this.pending.has(q)) {
        queue = q;
        this.next = (this.next + i + 1) % len;
      }
    }
    const n = this.claimable(this.free()), c = this.conn;
    if (n === 0) return;
    this.pending.delete(queue);
    let rows;
    try {
      ({ rows } = await this.exec(c, `SELECT ${CLAIM_COLUMNS} FROM workflow.claim_activities($1, $2, $3)`,
        [queue, this.workerId, n]));
    } catch (e) {
      if (isConnectionError(e)) {
        this.lost(c, e);
        this.pending.add(queue);
        return;
      }
      this.log(`cannot claim from queue "${queue}": ${e.message} (${e.code}); retrying at the next poll`);
      await this.idle(this.pollInterval);
      return;
    }
    if (rows.length === n) this.pending.add(queue); // there may be more
    if (rows.length === 0 && this.inflight.size === 0 && this.once) {
      this.emptyQueues.add(queue);
      if (this.emptyQueues.size === this.queues.length) this.shutdown();
    }
    for (const t of rows) this.start(t);
  }

  /** Run a claimed task in its slot (not awaited: its report frees the slot). */
  start(t) {
    const controller = new AbortController();
    const task = { t, controller, settled: false, cancelRequested: false, leaseLost: false };
    this.inflight.set(t.task_id, task);
    this.claimed++;
    this.emptyQueues.clear();
    this.execute(task).catch((e) => {
      this.log(`task ${t.task_id} ${t.activity}: cannot report: ${e.message} (${e.code})`);
      this.release(task);
    });
  }

  /** The task's outcome is reported (or dropped): its slot is free. */
  release(task) {
    if (this.inflight.get(task.t.task_id) === task) this.inflight.delete(task.t.task_id);
    if (this.once) this.queues.forEach((q) => this.pending.add(q));
    if (this.maxTasks && this.claimed >= this.maxTasks && this.inflight.size === 0) this.shutdown();
    this.wake();
  }

  context(task) {
    const { t } = task;
    return {
      taskId: t.task_id, activityId: t.activity_id, workflowId: t.workflow_id, runId: t.run_id,
      activity: t.activity, queue: t.queue, attempt: t.attempt, workerId: this.workerId,
      signal: task.controller.signal,
      get cancelled() { return task.cancelRequested; },
      heartbeat: (details) => this.heartbeat(task, details),
    };
  }

  /** heartbeat_activity: true when the workflow asks the activity to stop. */
  async heartbeat(task, details) {
    if (task.settled || task.cancelRequested || task.leaseLost) return true;
    const c = this.conn;
    if (!c) return false; // away: the lease runs on; report after reconnecting
    try {
      const { rows } = await this.routed(c, 'SELECT workflow.heartbeat_activity($1, $2::jsonb{run}) AS stop',
        [task.t.task_id, toJsonb(details ?? null)], task.t.workflow_id);
      if (rows[0].stop) {
        task.cancelRequested = true;
        task.controller.abort(new Error('activity cancelled at the workflow\'s request'));
      }
    } catch (e) {
      if (e.code === 'WF010') {
        this.log(`task ${task.t.task_id} ${task.t.activity}: no longer held by this worker (WF010); its outcome will be dropped`);
        task.leaseLost = true;
        task.controller.abort(new Error('lease lost'));
        return true;
      }
      if (isConnectionError(e)) this.lost(c, e);
      else this.log(`task ${task.t.task_id}: heartbeat failed: ${e.message}`);
      return false;
    }
    return task.cancelRequested;
  }

  async execute(task) {
    const { t } = task;
    let outcome;
    try {
      const fn = this.activities.get(t.activity);
      if (!fn) throw new NonRetryableError(`no activity "${t.activity}" registered in this worker`);
      const value = await fn(t.input, this.context(task));
      outcome = { ok: true, result: JSON.stringify(value ?? null) };
      if (outcome.result === undefined) throw new NonRetryableError('the activity returned a value JSON cannot encode');
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const retryable = !(err instanceof NonRetryableError || err.nonRetryable === true) && !task.cancelRequested;
      const message = task.cancelRequested ? 'activity cancelled at the workflow\'s request' : `${err.name}: ${err.message}`;
      let details = null;
      try { details = JSON.parse(toJsonb(err.details) ?? 'null'); } catch { /* details JSON cannot encode: left out */ }
      outcome = { ok: false, error: message, message: err.message, retryable, details };
    }
    if (task.settled) return; // reported at shutdown already
    await this.report(task, outcome);
  }

  /** Report an outcome; after a reconnect if need be.  WF010 is logged and dropped. */
  async report(task, outcome) {
    task.settled = true;
    try {
      await this.reportLoop(task, outcome);
    } finally {
      this.release(task);
    }
  }

  async reportLoop(task, outcome) {
    const { t } = task;
    let giveUpAt = null;
    for (;;) {
      if (task.leaseLost) {
        this.stats.late++;
        return;
      }
      const c = this.conn;
      if (!c) {
        if (this.stopping) {
          giveUpAt ??= Date.now() + GIVE_UP_MS;
          if (Date.now() >= giveUpAt) {
            this.log(`task ${t.task_id} ${t.activity} attempt ${t.attempt}: outcome abandoned (no connection); the task comes back when its lease expires`);
            this.stats.abandoned++;
            return;
          }
          await Promise.race([this.connected(), sleep(250)]);
        } else {
          await this.connected();
        }
        continue;
      }
      try {
        await this.send(c, task, outcome);
        if (outcome.ok) {
          this.stats.completed++;
          this.log(`task ${t.task_id} ${t.activity} attempt ${t.attempt}: completed`);
        } else {
          this.stats.failed++;
        }
        return;
      } catch (e) {
        if (e.code === 'WF010') {
          this.log(`task ${t.task_id} ${t.activity} attempt ${t.attempt}: late report ignored (WF010: ${e.message})`);
          this.stats.late++;
          return;
        }
        if (isConnectionError(e)) {
          this.lost(c, e);
          continue;
        }
        if (!outcome.ok) throw e; // fail_activity refused: a bug worth seeing
        this.log(`task ${t.task_id} ${t.activity}: result refused (${e.code}: ${e.message}); failing the attempt`);
        outcome = { ok: false, error: `result refused: ${e.message}`, retryable: false };
      }
    }
  }

  /**
   * A report's query: its `{run}` placeholder becomes the run's workflow_id as
   * last argument where the server has those overloads, nothing otherwise.
   */
  routed(c, query, params, workflowId) {
    if (!this.routedReports) return this.exec(c, query.replace('{run}', ''), params);
    return this.exec(c, query.replace('{run}', `, $${params.length + 1}`), [...params, workflowId]);
  }

  async send(c, task, outcome) {
    const { t } = task;
    if (!outcome.ok) {
      await this.routed(c, 'SELECT workflow.fail_activity($1, $2, $3, $4::jsonb{run})',
        [t.task_id, outcome.error, outcome.retryable, toJsonb(outcome.details ?? null)], t.workflow_id);
      this.log(`task ${t.task_id} ${t.activity} attempt ${t.attempt}: failed retryable=${outcome.retryable}: ${outcome.message ?? outcome.error}`);
      return;
    }
    if (!this.eager || this.stopping || this.claimable(1) === 0) {
      await this.routed(c, 'SELECT workflow.complete_activity($1, $2::jsonb{run})', [t.task_id, outcome.result],
        t.workflow_id);
      return;
    }
    // Eager dispatch: this slot takes the next task of the queue in the same call.
    const { rows } = await this.routed(c,
      `SELECT ${CLAIM_COLUMNS} FROM workflow.complete_and_claim($1, $2::jsonb, $3, $4, 1{run})`,
      [t.task_id, outcome.result, t.queue, this.workerId], t.workflow_id);
    for (const next of rows) this.start(next);
  }

  /** At shutdown: let running activities finish for `grace` ms, then abort and report them. */
  async drain() {
    if (!this.inflight.size) return;
    this.log(`waiting for ${this.inflight.size} running activities (grace ${this.grace} ms)`);
    const deadline = Date.now() + this.grace;
    while (this.inflight.size && Date.now() < deadline && !this.hurry)
      await this.idle(Math.min(250, deadline - Date.now()));
    for (const task of this.inflight.values()) {
      if (task.settled) continue;
      task.controller.abort(new Error('worker shutting down'));
      this.report(task, { ok: false, error: 'pgworkflow worker shut down before the activity finished', retryable: true })
        .catch((e) => this.log(`task ${task.t.task_id}: cannot report: ${e.message}`));
    }
    while (this.inflight.size) await this.idle(250);
  }
}
