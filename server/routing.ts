/**
 * Who gets a waiting conversation: the rules over the agents who are
 * available and have room, with no server in them, so they are tested alone.
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
 * The rules in their plainest form, one pass over every candidate: the
 * specification the Roster below is tested against (dispatch uses the
 * Roster, which picks the same agent without looking at everyone).
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

/** An agent as dispatch sees it: how much work they have, how much they take, which queues. */
export interface RosterAgent extends Candidate {
  load: number;
  capacity: number;
  /** The queues the agent takes; undefined: every queue. */
  queues?: string[];
}

/** Whether `agent` takes conversations of `queue`: an agent with queues takes only those; one without takes any. */
function takes(agent: RosterAgent, queue: string | undefined): boolean {
  return !queue || !agent.queues || agent.queues.includes(queue);
}

/**
 * The available agents with room, kept in the order routing prefers them
 * (longest idle first, ties by id), so that a pick looks at the front of the
 * line and the agents this conversation already had, not at everyone: with
 * ten thousand agents a scan per conversation was most of dispatch's time.
 * It picks exactly what pickAgent picks from the same agents.
 */
export class Roster<A extends RosterAgent> {
  /** Idlest first. */
  readonly #line: A[];
  readonly #byId = new Map<string, A>();

  /** @param agents the available agents; those without room are left out */
  constructor(agents: Iterable<A>) {
    this.#line = [...agents].filter((a) => a.load < a.capacity).sort((a, b) => (idler(a, b) ? -1 : idler(b, a) ? 1 : 0));
    for (const a of this.#line) this.#byId.set(a.id, a);
  }

  get size(): number {
    return this.#line.length;
  }

  /** The agents in line, idlest first (for tests and diagnostics). */
  agents(): readonly A[] {
    return this.#line;
  }

  /** Who gets a conversation of `queue`, by the rules of pickAgent; `{ retryAt: Infinity }` when nobody in line takes the queue. */
  pick(mode: RoutingMode, queue: string | undefined, tried: ReadonlyMap<string, number>, now: number, cooldownMs: number): Pick<A> {
    for (const a of this.#line) {
      if (takes(a, queue) && (mode === 'assign' || !tried.has(a.id))) return { agent: a };
    }
    if (mode === 'assign') return { retryAt: Infinity };
    // Everyone in line who takes the queue had it: the idlest rested one, or when the first rests.
    let rested: A | undefined;
    let retryAt = Infinity;
    for (const [id, closed] of tried) {
      const a = this.#byId.get(id);
      if (!a || !takes(a, queue)) continue;
      if (closed + cooldownMs <= now) {
        if (!rested || idler(a, rested)) rested = a;
      } else retryAt = Math.min(retryAt, closed + cooldownMs);
    }
    return rested ? { agent: rested } : { retryAt };
  }

  /** The agent was given work at `now`: one more of their load, and to the back of the line (or out of it, when full). */
  gave(agent: A, now: number): void {
    agent.load++;
    agent.lastWorkAt = now;
    this.#remove(agent);
    if (agent.load < agent.capacity) this.#insert(agent);
  }

  /** A hand-out did not happen (someone else took the conversation): the load it counted comes off. */
  undo(agent: A): void {
    agent.load--;
    if (agent.load < agent.capacity && !this.#byId.has(agent.id)) this.#insert(agent);
  }

  /** The agent turned out to be full (work given elsewhere): out of line until loads are read again. */
  full(agent: A): void {
    agent.load = agent.capacity;
    this.#remove(agent);
  }

  #remove(agent: A): void {
    if (!this.#byId.delete(agent.id)) return;
    // A picked agent is near the front, so this finds it at once.
    this.#line.splice(this.#line.indexOf(agent), 1);
  }

  #insert(agent: A): void {
    // Binary search for the first agent not idler than this one.
    let lo = 0;
    let hi = this.#line.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (idler(this.#line[mid]!, agent)) lo = mid + 1;
      else hi = mid;
    }
    this.#line.splice(lo, 0, agent);
    this.#byId.set(agent.id, agent);
  }
}
