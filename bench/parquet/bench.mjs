// bench.mjs — the Parquet decode benchmark (driven by run.sh):
//   1. generates (once, cached) a feature table of ROWS rows with DuckDB:
//      key BIGINT, event_time TIMESTAMP, 8 numeric features, a VARCHAR and a
//      list<float> of 16, written as SNAPPY and as ZSTD;
//   2. times DuckDB with one thread (SET threads=1) scanning every column of
//      each file (aggregates over all columns, incl. every list element);
//   3. times `featd-cli parquet bench FILE` (featd's reader decoding every
//      column of every row group) when that command exists, with peak RSS;
//   and prints rows/s and MB/s (file bytes and uncompressed page bytes).
// Environment: BENCH_DIR (output dir), BENCH_ROWS, BENCH_REPEAT, FEATD_CLI,
// BENCH_CODECS (comma list, default snappy,zstd), BENCH_PARQUET_VERSION.

import { DuckDBInstance } from '@duckdb/node-api';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const DIR = process.env.BENCH_DIR;
const ROWS = Number(process.env.BENCH_ROWS || 5000000);
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT || 3));
const CODECS = (process.env.BENCH_CODECS || 'snappy,zstd').split(',');
const VERSION = process.env.BENCH_PARQUET_VERSION || 'v1';
const CLI = process.env.FEATD_CLI;
if (!DIR || !CLI) throw new Error('run through bench/parquet/run.sh');

// Deterministic pseudo-random values from hash(); unit(x) in [0, 1).
const unit = (expr) => `((hash(${expr}) % 1000000007)::DOUBLE / 1000000007)`;
const TABLE_SQL = `
SELECT (i * 7 + hash(i) % 7)::BIGINT AS key,
  make_timestamp((1700000000000000 + i * 1000 + hash(i, 1) % 1000)::BIGINT) AS event_time,
  ${unit('i, 2')} * 1000 AS f0,
  (${unit('i, 3')} * 100)::FLOAT AS f1,
  (hash(i, 4) % 100000)::BIGINT AS f2,
  (hash(i, 5) % 1000)::INTEGER AS f3,
  CASE WHEN hash(i, 6) % 20 = 0 THEN NULL ELSE ${unit('i, 6')} - 0.5 END AS f4,
  (${unit('i, 7')} * 10)::FLOAT AS f5,
  round(${unit('i, 8')} * 500, 2) AS f6,
  (hash(i, 9) % 50)::DOUBLE AS f7,
  'segment_' || (hash(i, 10) % 1000) AS segment,
  list_transform(range(16), lambda d: (${unit('i, 11, d')} * 2 - 1)::FLOAT) AS embedding
FROM range(${ROWS}) t(i)`;

// Every column is read; the list's elements are all summed.
const SCAN_SQL = (f) => `
SELECT count(*), sum(key), max(event_time), sum(f0), sum(f1), sum(f2), sum(f3), sum(f4), sum(f5), sum(f6), sum(f7),
  sum(length(segment)), sum(list_sum(embedding)), sum(len(embedding))
FROM read_parquet('${f}')`;

function fileName(codec) {
  return join(DIR, `features_${ROWS}_${codec}_${VERSION}.parquet`);
}

async function generate(conn) {
  for (const codec of CODECS) {
    const f = fileName(codec);
    if (existsSync(f)) continue;
    const t0 = performance.now();
    await conn.run(`COPY (${TABLE_SQL}) TO '${f}.tmp' (FORMAT parquet, COMPRESSION ${codec}, PARQUET_VERSION ${VERSION})`);
    renameSync(`${f}.tmp`, f);
    console.log(`generated ${f} (${(statSync(f).size / 1e6).toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

async function uncompressedBytes(conn, f) {
  const r = await conn.runAndReadAll(`SELECT sum(total_uncompressed_size)::BIGINT, count(DISTINCT row_group_id) FROM parquet_metadata('${f}')`);
  const [bytes, groups] = r.getRows()[0];
  return { bytes: Number(bytes), groups: Number(groups) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeDuckdb(conn, f) {
  const secs = [];
  for (let k = 0; k < REPEAT; k++) {
    const t0 = performance.now();
    const r = await conn.runAndReadAll(SCAN_SQL(f));
    secs.push((performance.now() - t0) / 1000);
    const n = Number(r.getRows()[0][0]);
    if (n !== ROWS) throw new Error(`DuckDB counted ${n} rows in ${f}`);
  }
  return { secs, rss: null };
}

// featd hook: `featd-cli parquet bench FILE` must decode every column of
// every row group; if it prints "rows=N" the count is checked.
function featdAvailable(probe) {
  if (!existsSync(CLI)) return `${CLI} not built`;
  const r = spawnSync(CLI, ['parquet', 'bench', probe], { encoding: 'utf8' });
  if (r.status === 0) return null;
  const msg = `${r.stderr || r.stdout || ''}`.split('\n')[0];
  return `\`featd-cli parquet bench\` not available yet (exit ${r.status}${msg ? `: ${msg}` : ''})`;
}

function timeFeatd(f) {
  const secs = [];
  let rss = 0;
  const haveTime = existsSync('/usr/bin/time');
  for (let k = 0; k < REPEAT; k++) {
    const args = haveTime ? ['-f', 'featd-bench-rss-kb=%M', CLI, 'parquet', 'bench', f] : ['parquet', 'bench', f];
    const t0 = performance.now();
    const r = spawnSync(haveTime ? '/usr/bin/time' : CLI, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
    secs.push((performance.now() - t0) / 1000);
    if (r.status !== 0) throw new Error(`featd-cli parquet bench ${f} failed: ${r.stderr}`);
    const m = /rows=(\d+)/.exec(r.stdout);
    if (m && Number(m[1]) !== ROWS) throw new Error(`featd counted ${m[1]} rows in ${f}`);
    const kb = /featd-bench-rss-kb=(\d+)/.exec(r.stderr);
    if (kb) rss = Math.max(rss, Number(kb[1]));
  }
  return { secs, rss: rss ? rss * 1024 : null };
}

function row(cols) {
  const w = [26, 16, 9, 9, 12, 10, 12, 10];
  return cols.map((c, i) => String(c).padEnd(w[i] ?? 10)).join(' ');
}

async function main() {
  mkdirSync(DIR, { recursive: true });
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  await generate(conn);
  await conn.run('SET threads=1');
  const probe = process.env.FEATD_PROBE_FILE;
  const featdMissing = featdAvailable(probe && existsSync(probe) ? probe : fileName(CODECS[0]));
  console.log(`\n${ROWS} rows, best of ${REPEAT} runs (median in parentheses); MB = 10^6 bytes`);
  console.log(row(['file', 'reader', 'seconds', '(median)', 'Mrows/s', 'file MB/s', 'uncomp MB/s', 'peak RSS']));
  for (const codec of CODECS) {
    const f = fileName(codec);
    const size = statSync(f).size;
    const { bytes: ubytes } = await uncompressedBytes(conn, f);
    const results = [['DuckDB 1 thread', await timeDuckdb(conn, f)]];
    if (!featdMissing) results.push(['featd', timeFeatd(f)]);
    for (const [reader, { secs, rss }] of results) {
      const best = Math.min(...secs);
      console.log(row([
        `${codec} ${VERSION} ${(size / 1e6).toFixed(0)}MB`, reader, best.toFixed(3), `(${median(secs).toFixed(3)})`,
        (ROWS / best / 1e6).toFixed(2), (size / best / 1e6).toFixed(1), (ubytes / best / 1e6).toFixed(1),
        rss ? `${(rss / 1048576).toFixed(0)} MiB` : '-',
      ]));
    }
  }
  if (featdMissing) console.log(`\nfeatd: MISSING — ${featdMissing}`);
}

await main();
