// Connection strings: a postgres:// URL (pg's own) or a libpq keyword/value
// string ("host=/tmp dbname=app"), as workflow-worker takes with -d.

const KEYWORDS = { dbname: 'database', host: 'host', hostaddr: 'host', port: 'port', user: 'user',
  password: 'password', application_name: 'application_name', connect_timeout: 'connectionTimeoutMillis',
  options: 'options' };

/** pg config settings for a connection string. */
export function parseConninfo(conninfo) {
  if (/^postgres(ql)?:\/\//.test(conninfo)) return { connectionString: conninfo };
  const config = {};
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let m, end = 0;
  while ((m = re.exec(conninfo)) !== null) {
    end = re.lastIndex;
    const key = m[1], value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    const setting = KEYWORDS[key];
    if (key === 'sslmode') config.ssl = value === 'disable' ? false : value === 'require' ? { rejectUnauthorized: false } : true;
    else if (!setting) throw new TypeError(`connection string: unsupported keyword "${key}"`);
    else if (setting === 'port') config.port = Number(value);
    else if (setting === 'connectionTimeoutMillis') config.connectionTimeoutMillis = Number(value) * 1000;
    else config[setting] = value;
    if (re.lastIndex === conninfo.length) break;
  }
  if (conninfo.slice(end).trim() !== '') throw new TypeError(`connection string: cannot parse "${conninfo.slice(end)}"`);
  return config;
}
