#!/usr/bin/env node
// A minimal activity worker for the workflow extension (node-postgres).
//
// usage: node worker.js [URL] [--queue Q] [--batch N] [--poll S] [--max-tasks N] [--once]
//
// Connects with the postgres:// URL or the PG* environment, LISTENs on the
// queue, claims ready tasks in batches and runs the function that HANDLERS
// names for each activity: its return value completes the task; a thrown
// error fails it (retryable, unless it is a Permanent).  Exits 0 on SIGTERM
// or SIGINT after reporting the tasks it holds.
'use strict';
const os = require('os');
const { parseArgs } = require('util');
const { Client } = require('pg');

/** Thrown by a handler to fail its activity for good (no retry). */
class Permanent extends Error { name = 'Permanent'; }

const HANDLERS = {
  async Greet(input, task) {
    if (!('name' in input)) throw new Permanent('input has no name');
    if (input.flaky && task.attempt === 1) // a transient outage
      throw new Error('greeting service unavailable, try again');
    return { greeting: `Hello, ${input.name}!` };
  },
  async Shout(input) {
    return { shout: input.greeting.toUpperCase() };
  },
};

// Run one claimed task and report its outcome.
async function run(client, t) {
  let report, outcome;
  try {
    const fn = HANDLERS[t.activity];
    if (!fn) throw new Permanent(`no handler for activity "${t.activity}"`);
    const result = JSON.stringify((await fn(t.input, t)) ?? null); // sent as text: arrays stay JSON
    report = ['SELECT workflow.complete_activity($1, $2::jsonb)', [t.task_id, result]];
    outcome = 'completed';
  } catch (e) {
    const retryable = !(e instanceof Permanent);
    report = ['SELECT workflow.fail_activity($1, $2, $3)', [t.task_id, `${e.name}: ${e.message}`, retryable]];
    outcome = `failed retryable=${retryable}: ${e.message}`;
  }
  try {
    await client.query(...report);
  } catch (e) {
    if (e.code !== 'WF010') throw e; // WF010: the engine has moved on without us
    outcome = 'late report ignored';
  }
  console.error(`task ${t.task_id} ${t.activity} attempt ${t.attempt}: ${outcome}`);
}

async function main(argv = process.argv.slice(2)) {
  const { values: a, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      queue: { type: 'string', default: 'node_queue' },
      batch: { type: 'string', default: '10' },      // tasks claimed per query
      poll: { type: 'string', default: '10' },       // seconds to wait without a NOTIFY
      'max-tasks': { type: 'string', default: '0' }, // exit after running N tasks
      once: { type: 'boolean', default: false },     // exit when the queue is empty
    },
  });
  const batch = Number(a.batch), maxTasks = Number(a['max-tasks']), pollMs = Number(a.poll) * 1000;
  const client = new Client({ connectionString: positionals[0], application_name: 'workflow-example-node' });
  let stop = false, woken = false, wake = () => {}, done = 0;
  const onSignal = () => { stop = true; wake(); };
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  client.on('notification', () => { woken = true; wake(); });
  client.on('error', (e) => { console.error(`connection lost: ${e.message}`); process.exit(1); });
  await client.connect();
  const workerId = `node:${os.hostname()}:${process.pid}`;
  await client.query(`LISTEN ${client.escapeIdentifier(a.queue)}`);
  while (!stop && !(maxTasks && done >= maxTasks)) {
    woken = false;
    const n = maxTasks ? Math.min(batch, maxTasks - done) : batch;
    const { rows } = await client.query(
      'SELECT task_id, activity_id, activity, input, attempt FROM workflow.claim_activities($1, $2, $3)',
      [a.queue, workerId, n]);
    for (const t of rows) await run(client, t); // on SIGTERM, still report what we hold
    done += rows.length;
    if (rows.length || woken || stop) continue;
    if (a.once) break;
    await new Promise((resolve) => { // until a NOTIFY, a signal or the poll timeout
      const timer = setTimeout(resolve, pollMs);
      wake = () => { clearTimeout(timer); resolve(); };
    });
    wake = () => {};
  }
  await client.end();
}

module.exports = { HANDLERS, Permanent, main };
if (require.main === module)
  main().catch((e) => { console.error(e); process.exit(1); });
