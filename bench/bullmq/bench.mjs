// The BullMQ side of STACK's queue benchmark; scripts/bench-queue.sh runs it between the
// STACK runs. Prints one JSON line: end-to-end jobs/s, enqueue-only jobs/s, and idle
// enqueue-to-start latency p50/p99 in milliseconds.
//
// node bench.mjs   (REDIS_URL, BENCH_JOBS, BENCH_CONCURRENCY, BENCH_BATCH, BENCH_SAMPLES)
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// BullMQ 6 takes a client instance in ESM; workers need maxRetriesPerRequest: null.
const connect = () => new IORedis(url, { maxRetriesPerRequest: null });
const JOBS = Number(process.env.BENCH_JOBS ?? 100000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 500);
const opts = { removeOnComplete: true, removeOnFail: true };

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function throughput() {
  const name = `bench-tp-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection: connect() });
  const started = performance.now();
  for (let i = 0; i < JOBS; i += BATCH) {
    const jobs = [];
    for (let j = i; j < Math.min(JOBS, i + BATCH); j++) {
      jobs.push({ name: 'noop', data: { n: j }, opts });
    }
    await queue.addBulk(jobs);
  }
  const enqueued = performance.now();
  let completed = 0;
  let worker;
  await new Promise((resolve) => {
    worker = new Worker(name, async () => {}, { connection: connect(), concurrency: CONCURRENCY });
    worker.on('completed', () => {
      completed += 1;
      if (completed === JOBS) resolve();
    });
  });
  const finished = performance.now();
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return {
    enqueue_jobs_s: JOBS / ((enqueued - started) / 1000),
    e2e_jobs_s: JOBS / ((finished - started) / 1000),
  };
}

async function latency() {
  const name = `bench-lat-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection: connect() });
  const waiting = new Map();
  const worker = new Worker(
    name,
    async (job) => {
      const at = performance.now();
      waiting.get(job.data.n)?.(at);
    },
    { connection: connect(), concurrency: CONCURRENCY },
  );
  await worker.waitUntilReady();
  await sleep(500);
  const samples = [];
  for (let n = 0; n < SAMPLES; n++) {
    const start = new Promise((resolve) => waiting.set(n, resolve));
    const sent = performance.now();
    await queue.add('noop', { n }, opts);
    const at = await start;
    samples.push(at - sent);
    waiting.delete(n);
    await sleep(5);
  }
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  samples.sort((a, b) => a - b);
  return { p50_ms: percentile(samples, 50), p99_ms: percentile(samples, 99) };
}

const tp = await throughput();
const lat = await latency();
console.log(JSON.stringify({ system: 'bullmq', jobs: JOBS, concurrency: CONCURRENCY, ...tp, ...lat }));
process.exit(0);
