/**
 * Bench builds only (`npm run bench` sets DESKBELL_BENCH_MARKS=1): a
 * performance mark for each hop of an offer on its way to the screen, so the
 * latency bench can say where the time goes. Every other build compiles this
 * to nothing (the constant is false and the call is dropped).
 */
declare const __DESKBELL_BENCH_MARKS__: boolean;

export const HOPS_ON = typeof __DESKBELL_BENCH_MARKS__ !== 'undefined' && __DESKBELL_BENCH_MARKS__;

export type Hop = 'received' | 'parsed' | 'posted' | 'arrived' | 'rendered';

/** Hops already marked: each view carries every card, and only the first arrival counts. */
const marked = new Set<string>();

/** Marks `hop` of the offer or card `id`, at `at` (performance.now() of this context) or now; once per hop and id. */
export function hop(name: Hop, id: string, at?: number): void {
  if (!HOPS_ON) return;
  const mark = `deskbell:${name}:${id}`;
  if (marked.has(mark)) return;
  marked.add(mark);
  performance.mark(mark, at === undefined ? undefined : { startTime: at });
}
