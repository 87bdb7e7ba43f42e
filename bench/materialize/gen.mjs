// gen.mjs — writes the materializer benchmark's input with DuckDB: N rows
// (default 2,000,000; one row per entity) of 10 scalar features plus a
// 16-float embedding, zstd, row groups of 122880 rows.
// Usage: node gen.mjs OUT.parquet [N]   (run.sh calls it)
import { DuckDBInstance } from '@duckdb/node-api';

const [out, nArg] = process.argv.slice(2);
if (!out) {
  console.error('usage: node gen.mjs OUT.parquet [N]');
  process.exit(2);
}
const n = Number(nArg || 2000000);
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run(`
  COPY (
    SELECT i::BIGINT AS entity_id,
           make_timestamp(1735689600000000 + (i % 86400) * 1000000) AS event_ts,
           (i * 0.5)::DOUBLE AS d0, (i * 0.25)::DOUBLE AS d1, (i % 1000) / 7.0 AS d2,
           sqrt(i)::DOUBLE AS d3,
           (i * 3)::BIGINT AS i0, (i % 12345)::BIGINT AS i1,
           (i % 1000 / 8)::FLOAT AS f0, (i % 2 = 0) AS b0,
           'user-' || i::VARCHAR AS s0,
           make_timestamp(1735689600000000 - i * 1000) AS t0,
           list_transform(range(16), k -> ((i + k) % 1000 / 16)::FLOAT) AS emb
    FROM range(${n}) t(i)
  ) TO '${out.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
console.log(`wrote ${out}: ${n} rows`);
