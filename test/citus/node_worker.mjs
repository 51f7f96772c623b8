// A pgworkflow (Node) worker for test/citus/run.sh: serves queue "js" on
// the node of its conninfo until SIGTERM.  Echo heartbeats once, then
// returns its input, or fails for good when the input asks it to.
import { Worker, NonRetryableError } from '../../clients/node/src/index.js';

const worker = new Worker({ connectionString: process.argv[2], queues: ['js'], concurrency: 4,
  workerId: process.argv[3], pollInterval: 1000 });
worker.activity('Echo', async (input, ctx) => {
  await ctx.heartbeat({ at: 'start' });
  if (input.fail) throw new NonRetryableError('asked to fail');
  return input;
});
await worker.run();
