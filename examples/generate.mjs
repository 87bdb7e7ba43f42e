// Writes the example offline snapshots under examples/data/<view>/ from the
// JSON lines in examples/rows/, with DuckDB (a real Parquet writer), in the
// schemas config/featd.json declares (including the rev_30d rename).
//   cd examples && npm install && node generate.mjs
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const rows = (v) => join(here, 'rows', `${v}.jsonl`);
const out = (v, f) => join(here, 'data', v, f);

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone = 'UTC'");

for (const v of ['customer_stats', 'merchant_profile', 'customer_merchant']) {
  rmSync(join(here, 'data', v), { recursive: true, force: true });
  mkdirSync(join(here, 'data', v), { recursive: true });
}

// customer_stats: snapshot mode, one complete snapshot directory with _SUCCESS.
mkdirSync(join(here, 'data', 'customer_stats', 'snapshot=2026-11-21'), { recursive: true });
await con.run(`COPY (
  SELECT customer_id::BIGINT AS customer_id,
         event_timestamp::TIMESTAMP AS event_time,
         event_timestamp::TIMESTAMP AS created_at,
         revenue_30d::DOUBLE AS rev_30d,
         order_count_30d::BIGINT AS order_count_30d,
         avg_basket::FLOAT AS avg_basket,
         is_vip::BOOLEAN AS is_vip,
         last_order_at::TIMESTAMP AS last_order_at,
         embedding::FLOAT[] AS embedding
  FROM read_json('${rows('customer_stats')}', format = 'newline_delimited',
       columns = {customer_id: 'BIGINT', event_timestamp: 'VARCHAR', revenue_30d: 'DOUBLE',
                  order_count_30d: 'BIGINT', avg_basket: 'DOUBLE', is_vip: 'BOOLEAN',
                  last_order_at: 'VARCHAR', embedding: 'DOUBLE[]'})
  ORDER BY customer_id)
  TO '${out('customer_stats', 'snapshot=2026-11-21/part-0.parquet')}' (FORMAT parquet, COMPRESSION zstd)`);
writeFileSync(out('customer_stats', 'snapshot=2026-11-21/_SUCCESS'), '');

// merchant_profile: incremental mode, new files are upserted.
await con.run(`COPY (
  SELECT merchant_id, country, event_timestamp::TIMESTAMP AS event_time, category,
         rating_count::INTEGER AS rating_count,
         CASE WHEN logo_sha256 IS NULL THEN NULL ELSE from_base64(logo_sha256) END AS logo_sha256,
         tags::VARCHAR[] AS tags
  FROM read_json('${rows('merchant_profile')}', format = 'newline_delimited',
       columns = {merchant_id: 'VARCHAR', country: 'VARCHAR', event_timestamp: 'VARCHAR',
                  category: 'VARCHAR', rating_count: 'INTEGER', logo_sha256: 'VARCHAR',
                  tags: 'VARCHAR[]'})
  ORDER BY merchant_id, country)
  TO '${out('merchant_profile', 'part-0001.parquet')}' (FORMAT parquet, COMPRESSION snappy)`);

// customer_merchant: snapshot mode, a single-file snapshot.
await con.run(`COPY (
  SELECT customer_id::BIGINT AS customer_id, merchant_id, country,
         event_timestamp::TIMESTAMP AS event_time,
         txn_count_7d::INTEGER AS txn_count_7d,
         amount_history::DOUBLE[] AS amount_history,
         hour_histogram::BIGINT[] AS hour_histogram,
         last_txn_at::TIMESTAMP AS last_txn_at
  FROM read_json('${rows('customer_merchant')}', format = 'newline_delimited',
       columns = {customer_id: 'BIGINT', merchant_id: 'VARCHAR', country: 'VARCHAR',
                  event_timestamp: 'VARCHAR', txn_count_7d: 'INTEGER',
                  amount_history: 'DOUBLE[]', hour_histogram: 'BIGINT[]', last_txn_at: 'VARCHAR'})
  ORDER BY customer_id)
  TO '${out('customer_merchant', 'snapshot-2026-11-21.parquet')}' (FORMAT parquet)`);

console.log('wrote examples/data');
