/**
 * Who gets a waiting conversation: pure functions over the agents who are
 * available and have room, so the rules are tested without a server.
 *
 * - An assigned conversation goes to the agent who has waited longest for work.
 * - An offered one goes to the longest-idle agent who has not had it yet; when
 *   everyone has, to one whose last offer of it closed more than the cool-down
 *   ago (a rejection is not answered by the same offer at once); when nobody
 *   is rested yet, nobody, and dispatch tries again when the first one is.
 */
import type { RoutingMode } from '../protocol/feed.ts';

export interface Candidate {
  id: string;
  /** When the agent was last offered or given work. */
  lastWorkAt: number;
}

export type Pick<A extends Candidate> = { agent: A } | { retryAt: number };

/** True when `a` has gone longer without new work than `b` (ties: the smaller id, so the choice is stable). */
function idler(a: Candidate, b: Candidate): boolean {
  return a.lastWorkAt < b.lastWorkAt || (a.lastWorkAt === b.lastWorkAt && a.id < b.id);
}

/** The agent who has gone longest without new work (ties: the smallest id, so the choice is stable). */
export function longestIdle<A extends Candidate>(pool: readonly A[]): A {
  let chosen = pool[0]!;
  for (const a of pool) if (idler(a, chosen)) chosen = a;
  return chosen;
}

/**
 * One pass over the candidates, with no copies: dispatch runs this for every
 * waiting conversation, over every available agent.
 *
 * @param candidates available agents with room, at least one
 * @param tried agents this conversation was offered to, with when their last offer of it closed
 */
export function pickAgent<A extends Candidate>(mode: RoutingMode, candidates: readonly A[], tried: ReadonlyMap<string, number>, now: number, cooldownMs: number): Pick<A> {
  if (mode === 'assign') return { agent: longestIdle(candidates) };
  let fresh: A | undefined;
  let rested: A | undefined;
  let retryAt = Infinity;
  for (const a of candidates) {
    const closed = tried.get(a.id);
    if (closed === undefined) {
      if (!fresh || idler(a, fresh)) fresh = a;
    } else if (closed + cooldownMs <= now) {
      if (!rested || idler(a, rested)) rested = a;
    } else retryAt = Math.min(retryAt, closed + cooldownMs);
  }
  const agent = fresh ?? rested;
  return agent ? { agent } : { retryAt };
}
