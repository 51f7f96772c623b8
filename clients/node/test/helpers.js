// Shared by the tests: the database of PG* (made by test/shell/client_node.sh).
import pg from 'pg';

export const pool = new pg.Pool({ max: 4 });
pool.on('error', () => {});

export async function sql(text, params) {
  return (await pool.query(text, params)).rows;
}

/** A plpgsql workflow type `name` whose body is `body` (input is `input`). */
export async function defineWorkflow(name, body) {
  await sql(`CREATE OR REPLACE FUNCTION wf_${name}(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $wf$
DECLARE r jsonb;
BEGIN
${body}
END
$wf$`);
  await sql(`SELECT workflow.register_workflow($1, $2::regprocedure)`, [name, `wf_${name}(jsonb)`]);
}

/** Resolves when fn() is truthy (polls every 100 ms, fails after ms). */
export async function until(fn, ms = 20000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A worker's log lines, kept for assertions. */
export function logSink() {
  const lines = [];
  const log = (line) => { lines.push(line); if (process.env.PGWORKFLOW_TEST_VERBOSE) console.error(line); };
  return { lines, log };
}
