// Client: start workflows and steer them, over the public SQL API.
import pg from 'pg';
import { mapError, ResultTimeout } from './errors.js';
import { parseConninfo } from './conninfo.js';

/** JSON text for a jsonb parameter (arrays must not become PostgreSQL arrays). */
export function toJsonb(value) {
  return value === undefined ? null : JSON.stringify(value);
}

/** An interval parameter from milliseconds (null: none). */
function msInterval(ms) {
  if (ms === undefined || ms === null) return null;
  if (typeof ms !== 'number' || !(ms >= 0)) throw new TypeError('timeout must be a number of milliseconds >= 0');
  return `${ms / 1000} seconds`;
}

export class Client {
  /**
   * @param conn a connection string (a postgres:// URL or libpq's key=value form), a pg config object, a pg.Pool or a pg.Client
   *   (a Pool or Client passed in is the caller's: close() leaves it open).
   */
  constructor(conn = {}) {
    if (typeof conn?.query === 'function') { // a pg.Pool or pg.Client, maybe of another copy of pg
      this.db = conn;
      this.ownsDb = false;
    } else {
      const config = typeof conn === 'string' ? parseConninfo(conn) : conn;
      this.db = new pg.Pool({ application_name: 'pgworkflow', ...config });
      this.db.on('error', () => {}); // an idle client lost: the pool replaces it
      this.ownsDb = true;
    }
  }

  async query(sql, params, on = this.db) {
    try {
      return await on.query(sql, params);
    } catch (e) {
      throw mapError(e);
    }
  }

  async one(sql, params, on) {
    return (await this.query(sql, params, on)).rows[0].r;
  }

  /**
   * Start a workflow; resolves to its workflow_id.  `options.client` runs the
   * start on that connection (a pg.Client or pool client), inside whatever
   * transaction it has open; the other options go to start_workflow's options.
   */
  async start(type, input = {}, { id = null, client, ...options } = {}) {
    return this.one(
      'SELECT workflow.start_workflow($1, $2::jsonb, $3, $4::jsonb) AS r',
      [type, toJsonb(input ?? {}), id, toJsonb(options)], client);
  }

  /**
   * The result of the latest run of `id` once it closes (workflow.await_result):
   * WorkflowFailed when it did not complete, ResultTimeout when `timeout`
   * (milliseconds) passes first.
   */
  async result(id, { timeout } = {}) {
    const interval = msInterval(timeout);
    const r = await this.one('SELECT workflow.await_result($1, $2::interval) AS r', [id, interval]);
    if (r === null && interval !== null) {
      const d = await this.describe(id);
      if (d.closed_at === null || d.closed_at === undefined)
        throw new ResultTimeout(`workflow "${id}" did not close within ${timeout} ms`, { detail: `status ${d.status}` });
    }
    return r;
  }

  async signal(id, name, payload = null, { client } = {}) {
    await this.query('SELECT workflow.signal_workflow($1, $2, $3::jsonb)', [id, name, toJsonb(payload)], client);
  }

  async cancel(id, reason = null, { client } = {}) {
    await this.query('SELECT workflow.cancel_workflow($1, $2)', [id, reason], client);
  }

  async terminate(id, reason = null, { client } = {}) {
    await this.query('SELECT workflow.terminate_workflow($1, $2)', [id, reason], client);
  }

  /** workflow.describe(id): where the latest run stopped, and why. */
  async describe(id, { client } = {}) {
    return this.one('SELECT workflow.describe($1) AS r', [id], client);
  }

  /** The value the workflow last published with set_state (null if none). */
  async getState(id, key, { client } = {}) {
    return this.one('SELECT workflow.get_state($1, $2) AS r', [id, key], client);
  }

  /** Close the pool this client made (not a pool or client passed in). */
  async close() {
    if (this.ownsDb) await this.db.end();
  }
}
