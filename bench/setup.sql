-- make bench: the objects the benchmark needs, in a fresh database.
CREATE EXTENSION IF NOT EXISTS workflow;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

-- The seed's order saga comes from examples/order/setup.sql, run before this.

-- Timers: sleep until input.due (epoch seconds), then complete.
-- workflow.now() is recorded once, so replays compute the same interval.
CREATE FUNCTION bench_sleep(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep(greatest(to_timestamp((input->>'due')::float8) - workflow.now(),
									interval '0'));
	RETURN '{}';
END
$$;
SELECT workflow.register_workflow('bench_sleep', 'bench_sleep(jsonb)');

-- pgbench baseline: one INSERT and one UPDATE by primary key per transaction.
CREATE TABLE bench_accounts (aid integer PRIMARY KEY, balance bigint NOT NULL DEFAULT 0,
							 filler text) WITH (fillfactor = 90);
INSERT INTO bench_accounts (aid, filler)
	SELECT i, repeat('x', 80) FROM generate_series(1, 100000) AS i;
CREATE TABLE bench_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
						   aid integer NOT NULL, delta integer NOT NULL,
						   created_at timestamptz NOT NULL DEFAULT now());
VACUUM ANALYZE bench_accounts;

-- History length: one run that loops over activities (no continue-as-new),
-- input.steps of them, on the queue "history".
CREATE FUNCTION bench_history(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. (input->>'steps')::int LOOP
		PERFORM workflow.activity('Step', '{}', 'history');
	END LOOP;
	RETURN '{}';
END
$$;
SELECT workflow.register_workflow('bench_history', 'bench_history(jsonb)');
