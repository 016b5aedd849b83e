/** Summaries and pacing shared by the benchmarks. */
import { performance } from 'node:perf_hooks';

export interface Distribution {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles, rounded to 0.01 ms. */
export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN);
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

export function median(samples: readonly number[]): number {
  return distribution(samples).p50;
}

/**
 * Where the ratio of two medians (`top` over `bottom`) may lie, given the
 * spread of the samples: the 2.5th and 97.5th percentiles of the ratio over
 * 2,000 bootstrap resamples, drawn with a fixed seed so a report reads the
 * same each time it is made from the same samples.
 */
export function ratioInterval(top: readonly number[], bottom: readonly number[]): [number, number] {
  let seed = 0x2f6b_3a1d;
  const random = () => {
    // xorshift32: small, seeded, good enough for resampling.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x1_0000_0000;
  };
  const resample = (samples: readonly number[]) => median(samples.map(() => samples[Math.floor(random() * samples.length)]!));
  const ratios = Array.from({ length: 2000 }, () => resample(top) / resample(bottom)).sort((a, b) => a - b);
  return [round(ratios[Math.floor(0.025 * ratios.length)]!, 3), round(ratios[Math.ceil(0.975 * ratios.length) - 1]!, 3)];
}

export function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}

/**
 * Calls `fire` `total` times at `rate` a second; returns when the first call
 * was made. Each call due is made when
 * its time comes, and the event loop turns between the calls of one moment
 * and the next, as requests arriving over the network would let it: a loop
 * that only awaited microtasks would keep the server under test from
 * committing and sending anything until the last call.
 */
export async function paced(total: number, rate: number, fire: (i: number) => void | Promise<void>): Promise<number> {
  const start = performance.now();
  let i = 0;
  while (i < total) {
    const wait = start + (i * 1000) / rate - performance.now();
    // A timer when the next call is not due yet (no busy wait: it would take the CPU from the server under test).
    if (wait > 0) await sleep(wait);
    else await new Promise<void>((resolve) => setImmediate(resolve));
    // Everything due by now, in one turn.
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    for (; i < due; i++) await fire(i);
  }
  return start;
}

export async function waitFor(check: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) return false;
    await sleep(10);
  }
  return true;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Wall-clock milliseconds with sub-millisecond precision, comparable with a page's `performance.timeOrigin + performance.now()`. */
export const wallClock = () => performance.timeOrigin + performance.now();
