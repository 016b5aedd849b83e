/**
 * `npm run bench`: every figure beside a baseline measured in the same run,
 * and the target it is read against; printed, written to bench/report.json,
 * never asserted. Needs a build (`npm run build`) and Chromium for the
 * browser sections.
 *
 *   BENCH_ONLY=latency,footprint,burst,server   run some sections only
 *   BENCH_OFFERS (200)  BENCH_LOADS (25)  BENCH_BURST (1000)
 *   BENCH_AGENTS (1000) BENCH_RATE (500)  BENCH_SECONDS (2)
 */
import { writeFileSync } from 'node:fs';
import { benchBurst, benchFootprint, benchLatency } from './browser.ts';
import { benchBareWs, benchFeedServer, type ServerFigures } from './feed-server.ts';
import type { Distribution } from './stats.ts';
import { contentScriptSize } from '../scripts/content-size.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const only = process.env.BENCH_ONLY?.split(',');
const runs = (section: string) => !only || only.includes(section);

const report: Record<string, unknown> = { at: new Date().toISOString() };
const ms = (v: number) => `${v.toFixed(2).padStart(8)} ms`;
const dist = (d: Distribution) => `p50 ${ms(d.p50)}  p95 ${ms(d.p95)}  p99 ${ms(d.p99)}  max ${ms(d.max)}`;
const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');

if (runs('latency')) {
  const offers = env('BENCH_OFFERS', 200);
  const f = await benchLatency(offers);
  report.latency = f;
  console.log(`\nlatency: feed frame sent → card painted, ${offers} offers`);
  console.log(`  baseline page (own socket)   ${dist(f.baseline)}`);
  console.log(`  deskbell overlay in CRM tab  ${dist(f.deskbell)}`);
  console.log(`  overhead                     p50 ${ms(f.overhead.p50)}  p95 ${ms(f.overhead.p95)}  p99 ${ms(f.overhead.p99)}  (target p95 ≤ 16 ms: ${verdict(f.overhead.p95 <= 16)})`);
}

if (runs('footprint')) {
  const size = contentScriptSize();
  const loads = env('BENCH_LOADS', 25);
  const f = await benchFootprint(loads);
  report.footprint = { size, ...f };
  console.log(`\nfootprint on the CRM page`);
  console.log(`  content script               ${(size.raw / 1024).toFixed(1)} KB raw, ${(size.gzip / 1024).toFixed(1)} KB gzip (target ≤ 25 KB gzip: ${verdict(size.gzip <= 25 * 1024)})`);
  for (const p of f.pages) {
    console.log(`  ${p.page}, median of ${loads} loads`);
    const line = (name: string, l: typeof p.with) =>
      console.log(`    ${name.padEnd(24)} load ${ms(l.loadMs)}  main-thread tasks ${ms(l.taskMs)}  long tasks/load ${l.longTasks}`);
    line('no extension (baseline)', p.without);
    line('empty content script', p.emptyScript);
    line('deskbell', p.with);
    console.log(`    load ratio ${p.loadRatio.toFixed(3)} against no extension (target ≤ 1.03: ${verdict(p.loadRatio <= 1.03)}); ${p.ownRatio.toFixed(3)} against an empty content script`);
  }
}

if (runs('burst')) {
  const offers = env('BENCH_BURST', 1000);
  const f = await benchBurst(offers);
  report.burst = f;
  console.log(`\nburst: ${offers} offers within a second`);
  console.log(`  in the worker's store        ${f.stored}/${offers}; accounted for in the overlay ${f.shown}/${offers} (target none lost: ${verdict(f.stored === offers && f.shown === offers)})`);
  console.log(`  all shown after              ${ms(f.allShownMs)} from the first offer`);
  console.log(`  frame gaps, page idle        ${dist(f.framesIdle)}`);
  console.log(`  frame gaps, during burst     ${dist(f.framesBurst)}`);
  console.log(`  worker heap                  before ${f.heapBeforeMb.toFixed(2)} MB  after ${f.heapAfterMb.toFixed(2)} MB (target ≤ 20 MB: ${verdict(f.heapAfterMb <= 20)})`);
}

if (runs('server')) {
  const options = { agents: env('BENCH_AGENTS', 1000), rate: env('BENCH_RATE', 500), seconds: env('BENCH_SECONDS', 2) };
  const baseline = await benchBareWs(options);
  const feed = await benchFeedServer(options);
  report.feedServer = { ...options, baseline, deskbell: feed };
  const row = (name: string, f: ServerFigures) => `  ${name.padEnd(28)} ${String(f.n).padStart(5)}/${f.sent} ${String(f.throughput).padStart(5)}/s  ${dist(f)}`;
  console.log(`\nfeed server: ${options.agents} agents on loopback, ${options.rate} offers/s for ${options.seconds} s`);
  console.log(row('bare ws broadcast (baseline)', baseline));
  console.log(row('deskbell feed server', feed));
  const ok = feed.n === feed.sent && feed.throughput >= options.rate * 0.95 && feed.p99 <= 50;
  console.log(`  overhead                     p50 ${ms(feed.p50 - baseline.p50)}  p99 ${ms(feed.p99 - baseline.p99)}  (target 500/s at p99 ≤ 50 ms: ${verdict(ok)})`);
}

writeFileSync('bench/report.json', JSON.stringify(report, null, 2));
console.log('\nreport: bench/report.json');
