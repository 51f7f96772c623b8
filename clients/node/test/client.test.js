// Client and Worker against a real server (run by test/shell/client_node.sh).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  Client, Worker, NonRetryableError, WorkflowFailed, ActivityFailed, AlreadyRunning,
  NotFound, ResultTimeout, PermissionDenied,
} from '../src/index.js';
import { pool, sql, defineWorkflow, until, logSink } from './helpers.js';

const client = new Client(pool);
after(() => pool.ended || pool.end());

const retryFast = '{"retry": {"initial_interval": "100 milliseconds", "maximum_attempts": 5}}';

/** Run a worker for the duration of fn(worker, log). */
async function withWorker(options, activities, fn) {
  const sink = logSink();
  const worker = new Worker({ handleSignals: false, pollInterval: 2000, log: sink.log, ...options, activities });
  const running = worker.run();
  try {
    await fn(worker, sink.lines);
  } finally {
    worker.shutdown();
    await running;
  }
  return sink.lines;
}

test('start and result; start in a transaction; errors', async () => {
  await defineWorkflow('greet', `
    r := workflow.activity('Greet', input, 'q_basic');
    PERFORM workflow.set_state('stage', '"greeted"');
    RETURN workflow.activity('Shout', r, 'q_basic');`);
  await withWorker({ queues: 'q_basic' }, {
    Greet: async (x, ctx) => ({ greeting: `Hello, ${x.name}!`, workflowId: ctx.workflowId }),
    Shout: async (x) => [x.greeting.toUpperCase(), x.workflowId], // an array stays JSON
  }, async () => {
    const id = await client.start('greet', { name: 'ann' }, { id: 'greet-1' });
    assert.equal(id, 'greet-1');
    assert.deepEqual(await client.result(id, { timeout: 20000 }), ['HELLO, ANN!', 'greet-1']);
    assert.equal(await client.getState(id, 'stage'), 'greeted');
    assert.equal((await client.describe(id)).status, 'completed');

    // A libpq key=value connection string, as workflow-worker's -d takes.
    const kv = new Client(`host=${process.env.PGHOST} port=${process.env.PGPORT} dbname=${process.env.PGDATABASE} user=${process.env.PGUSER}`);
    assert.equal((await kv.describe(id)).status, 'completed');
    await kv.close();

    // A generated id; an option passed on.
    const id2 = await client.start('greet', { name: 'bob' }, { search_attributes: { customer: 'c-1' } });
    assert.match(id2, /^[0-9a-f-]{36}$/);
    assert.deepEqual(await client.result(id2), ['HELLO, BOB!', id2]);

    await client.start('greet', { name: 'x' }, { id: 'greet-dup' });
    await assert.rejects(client.start('greet', { name: 'x' }, { id: 'greet-dup' }), AlreadyRunning);
    await assert.rejects(client.describe('no-such-run'), NotFound);
    await assert.rejects(client.signal('no-such-run', 'go'), (e) => e instanceof NotFound && e.code === '42704');
  });

  // In the caller's transaction: rolled back, nothing was started.
  const conn = await pool.connect();
  try {
    await conn.query('BEGIN');
    await client.start('greet', { name: 'tx' }, { id: 'greet-tx', client: conn });
    await conn.query('ROLLBACK');
    await assert.rejects(client.describe('greet-tx'), NotFound);
    await conn.query('BEGIN');
    await client.start('greet', { name: 'tx' }, { id: 'greet-tx', client: conn });
    await conn.query('COMMIT');
  } finally {
    conn.release();
  }
  // Another role may not steer the run, nor see it.
  await sql(`DO $$ BEGIN CREATE ROLE pgwf_mallory LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await sql('GRANT USAGE ON SCHEMA workflow TO pgwf_mallory');
  const mallory = new pg.Client({ user: 'pgwf_mallory' });
  await mallory.connect();
  try {
    const asMallory = new Client(mallory);
    await assert.rejects(asMallory.cancel('greet-tx'), (e) => e instanceof PermissionDenied && e.code === '42501');
    await assert.rejects(asMallory.describe('greet-tx'), NotFound);
  } finally {
    await mallory.end();
  }
  // No worker now: the wait runs out, then termination ends the run.
  await assert.rejects(client.result('greet-tx', { timeout: 200 }), ResultTimeout);
  await client.terminate('greet-tx', 'test');
  await assert.rejects(client.result('greet-tx'), (e) => e instanceof WorkflowFailed && e.status === 'terminated');
});

test('a flaky activity is retried', async () => {
  await defineWorkflow('flaky', `RETURN workflow.activity('Flaky', input, 'q_flaky', '${retryFast}');`);
  let calls = 0;
  const lines = await withWorker({ queues: 'q_flaky' }, {
    Flaky: async (x, ctx) => {
      calls++;
      if (ctx.attempt < 3) throw new Error(`outage ${ctx.attempt}`);
      return { attempt: ctx.attempt };
    },
  }, async () => {
    assert.deepEqual(await client.result(await client.start('flaky', {}), { timeout: 20000 }), { attempt: 3 });
  });
  assert.equal(calls, 3);
  assert.equal(lines.filter((l) => /failed retryable=true: outage/.test(l)).length, 2);
});

test('a claimed batch runs concurrently: no lease of it runs out', async () => {
  await defineWorkflow('batch', `RETURN workflow.activity('Second', input, 'q_batch', '{"start_to_close_timeout": "3 seconds"}');`);
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push(await client.start('batch', { i }));
  let running = 0, most = 0;
  const lines = await withWorker({ queues: 'q_batch', concurrency: 6 }, {
    Second: async (x) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      running--;
      return x.i;
    },
  }, async () => {
    for (const [i, id] of ids.entries()) assert.equal(await client.result(id, { timeout: 20000 }), i);
  });
  assert.equal(most, 6, 'the six tasks ran at once');
  assert.ok(!lines.some((l) => /late report|failed/.test(l)), lines.join('\n'));
  const [{ n }] = await sql(`SELECT count(*)::int AS n FROM workflow.history
    WHERE workflow_id = ANY($1) AND event_type = 'ActivityFailed'`, [ids]);
  assert.equal(n, 0);
});

test('a non-retryable failure fails the workflow', async () => {
  await defineWorkflow('doomed', `RETURN workflow.activity('Doomed', input, 'q_doomed', '${retryFast}');`);
  let calls = 0;
  await withWorker({ queues: 'q_doomed' }, {
    Doomed: async () => { calls++; throw new NonRetryableError('card declined'); },
  }, async () => {
    const id = await client.start('doomed', {});
    const e = await client.result(id, { timeout: 20000 }).catch((x) => x);
    assert.ok(e instanceof WorkflowFailed, e);
    assert.equal(e.status, 'failed');
    assert.ok(e.activityFailure instanceof ActivityFailed);
    assert.match(e.activityFailure.message, /NonRetryableError: card declined/);
  });
  assert.equal(calls, 1);
});

test('heartbeat returns true after cancel_workflow, and the signal aborts', async () => {
  await defineWorkflow('long', `RETURN workflow.activity('Long', input, 'q_long', '{"heartbeat_timeout": "5 seconds"}');`);
  let started, seen;
  const running = new Promise((resolve) => { started = resolve; });
  await withWorker({ queues: 'q_long' }, {
    Long: async (x, ctx) => {
      started();
      const beats = [];
      for (let i = 0; i < 200; i++) {
        const stop = await ctx.heartbeat({ step: i });
        beats.push(stop);
        if (stop) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      seen = { last: beats.at(-1), aborted: ctx.signal.aborted, cancelled: ctx.cancelled };
      throw new Error('stopped');
    },
  }, async () => {
    const id = await client.start('long', {});
    await running;
    await client.cancel(id, 'changed my mind');
    await assert.rejects(client.result(id, { timeout: 20000 }), (e) => e instanceof WorkflowFailed && e.status === 'cancelled');
  });
  assert.deepEqual(seen, { last: true, aborted: true, cancelled: true });
});

const fixture = fileURLToPath(new URL('fixtures/slow-worker.js', import.meta.url));

/** Start the fixture worker process; resolves once it runs an activity. */
async function slowWorker(queue, grace) {
  const child = spawn(process.execPath, [fixture, queue, String(grace)], { stdio: ['ignore', 'inherit', 'pipe'] });
  let err = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => { err += d; if (/started /.test(err)) resolve(); });
    child.on('exit', () => reject(new Error(`worker exited early: ${err}`)));
  });
  return { child, exited, log: () => err };
}

test('SIGTERM mid-task: the activity finishes within the grace period and is reported', async () => {
  await defineWorkflow('slow_term', `RETURN workflow.activity('Slow', input, 'q_term', '{"start_to_close_timeout": "60 seconds"}');`);
  const id = await client.start('slow_term', { ms: 1500 });
  const w = await slowWorker('q_term', 30000);
  w.child.kill('SIGTERM');
  assert.deepEqual(await w.exited, { code: 0, signal: null });
  assert.match(w.log(), /"completed":1/);
  assert.deepEqual(await client.result(id, { timeout: 5000 }), { slept: 1500 });
});

test('SIGTERM mid-task: past the grace period the attempt is reported as a retryable failure', async () => {
  await defineWorkflow('slow_grace', `RETURN workflow.activity('Slow', input, 'q_grace', '{"start_to_close_timeout": "60 seconds", "retry": {"maximum_attempts": 1}}');`);
  const id = await client.start('slow_grace', { ms: 60000, stubborn: true });
  const w = await slowWorker('q_grace', 300);
  const t0 = Date.now();
  w.child.kill('SIGTERM');
  assert.deepEqual(await w.exited, { code: 0, signal: null });
  assert.ok(Date.now() - t0 < 10000, 'the worker did not wait for the activity');
  const [ev] = await sql(`SELECT data FROM workflow.history WHERE workflow_id = $1 AND event_type = 'ActivityFailed'`, [id]);
  assert.match(ev.data.error, /shut down before the activity finished/);
  assert.equal(ev.data.retryable, true);
});

test('reconnect after a server restart with a task in flight: its outcome is reported after the reconnect', async () => {
  const cluster = process.env.WF_CLUSTER;
  assert.ok(cluster, 'WF_CLUSTER names tools/cluster.sh');
  await defineWorkflow('restart', `
    r := workflow.activity('Slow', input, 'q_restart', '{"start_to_close_timeout": "60 seconds"}');
    RETURN workflow.activity('Quick', r, 'q_restart');`);
  const id = await client.start('restart', {});
  await pool.end(); // its connections die with the server
  let started, finish;
  const running = new Promise((resolve) => { started = resolve; });
  const finished = new Promise((resolve) => { finish = resolve; });
  // Without session-bound leases: the end of the claiming session, which a
  // fast shutdown may or may not get recorded, must not fail the attempt.
  const lines = await withWorker({ queues: 'q_restart', pollInterval: 500,
    connection: { options: '-c workflow.session_leases=off' } }, {
    Slow: async () => {
      started();
      await finished; // the test lets it finish while the server is down
      return { slow: 'done' };
    },
    Quick: async (x) => ({ ...x, quick: true }),
  }, async () => {
    await running;
    execFileSync(cluster, ['stop'], { stdio: 'ignore' });
    finish();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    execFileSync(cluster, ['start'], { stdio: 'ignore' });
    const fresh = new Client({});
    try {
      assert.deepEqual(await fresh.result(id, { timeout: 30000 }), { slow: 'done', quick: true });
      const { rows } = await fresh.query(`SELECT string_agg(event_type, ',' ORDER BY event_id) AS s FROM workflow.history
        WHERE workflow_id = $1 AND event_type LIKE 'Activity%'`, [id]);
      assert.equal(rows[0].s, 'ActivityScheduled,ActivityStarted,ActivityCompleted,ActivityScheduled,ActivityStarted,ActivityCompleted',
        'both activities completed on their first attempt');
    } finally {
      await fresh.close();
    }
  });
  assert.ok(lines.some((l) => /connection lost/.test(l)), lines.join('\n'));
  assert.ok(lines.filter((l) => /^connected/.test(l)).length >= 2, lines.join('\n'));
});

test('the seed order saga end to end with the Node example worker', async () => {
  const fresh = new pg.Pool({ max: 2 });
  fresh.on('error', () => {});
  const c = new Client(fresh);
  const repo = fileURLToPath(new URL('../../../', import.meta.url));
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', `${repo}/examples/order/setup.sql`], { stdio: 'ignore' });
  const queues = ['inventory', 'payments', 'shipping', 'notifications'].flatMap((q) => ['--queue', q]);
  const child = spawn(process.execPath, [`${repo}/examples/node/worker.js`, ...queues], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await c.start('order', { order_id: 'order-1', items: 2 }, { id: 'order-1' });
    await c.start('order', { order_id: 'order-3', items: 5, carrier_down: true }, { id: 'order-3' });
    assert.equal((await c.result('order-1', { timeout: 30000 })).tracking, 'TRK-order-1');
    const e = await c.result('order-3', { timeout: 30000 }).catch((x) => x);
    assert.ok(e instanceof WorkflowFailed, e);
    assert.equal(e.status, 'compensated');
    const { rows } = await c.query(`SELECT string_agg(data->>'activity', ',' ORDER BY event_id) AS s FROM workflow.history
      WHERE workflow_id = 'order-3' AND event_type = 'ActivityCompleted'`);
    assert.equal(rows[0].s, 'ReserveInventory,ChargePayment,RefundPayment,ReleaseInventory');
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    await c.close();
    await fresh.end();
  }
});
