#!/usr/bin/env node
// An activity worker built on pgworkflow (clients/node).
//
// usage: node worker.js [URL] [--queue Q]... [--batch N] [--poll S] [--max-tasks N] [--once]
//
// Serves the queues (node_queue by default) with the activities of
// activities.js, N at a time.  Exits 0 on SIGTERM or SIGINT once the tasks it
// holds are reported.
import { parseArgs } from 'node:util';
import { Worker } from 'pgworkflow';
import { greet, order } from './activities.js';

export const HANDLERS = { ...greet, ...order };

export async function main(argv = process.argv.slice(2)) {
  const { values: a, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      queue: { type: 'string', multiple: true },
      batch: { type: 'string', default: '8' },       // activities run at once
      poll: { type: 'string', default: '10' },       // seconds to wait without a NOTIFY
      'max-tasks': { type: 'string', default: '0' }, // exit after running N tasks
      once: { type: 'boolean', default: false },     // exit when the queues are empty
    },
  });
  const worker = new Worker({
    connection: { connectionString: positionals[0], application_name: 'workflow-example-node' },
    queues: a.queue ?? ['node_queue'],
    concurrency: Number(a.batch),
    pollInterval: Number(a.poll) * 1000,
    maxTasks: Number(a['max-tasks']),
    once: a.once,
    activities: HANDLERS,
  });
  const stats = await worker.run();
  if (stats.abandoned) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((e) => { console.error(e); process.exit(1); });
