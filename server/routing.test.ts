import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RoutingMode } from '../protocol/feed';
import { longestIdle, pickAgent, Roster } from './routing';

const agents = [
  { id: 'b', lastWorkAt: 50 },
  { id: 'a', lastWorkAt: 50 },
  { id: 'c', lastWorkAt: 10 },
];

describe('routing', () => {
  it('prefers the agent idle longest, ties broken by id', () => {
    expect(longestIdle(agents).id).toBe('c');
    expect(longestIdle(agents.slice(0, 2)).id).toBe('a');
  });

  it('assigns to the longest idle, whoever had it before', () => {
    expect(pickAgent('assign', agents, new Map([['c', 90]]), 100, 30_000)).toEqual({ agent: agents[2] });
  });

  it('offers to someone who has not had it, then to a rested one, else says when to try again', () => {
    expect(pickAgent('offer', agents, new Map([['c', 90]]), 100, 30_000)).toEqual({ agent: agents[1] });
    const everyone = new Map([['a', 100], ['b', 200], ['c', 5_000]]);
    expect(pickAgent('offer', agents, everyone, 30_150, 30_000)).toEqual({ agent: agents[1] });
    expect(pickAgent('offer', agents, everyone, 1_000, 30_000)).toEqual({ retryAt: 30_100 });
  });
});

describe('the roster', () => {
  const agent = (id: string, lastWorkAt: number, load = 0, capacity = 2, queues?: string[]) => ({ id, lastWorkAt, load, capacity, ...(queues ? { queues } : {}) });

  it('keeps the available agents with room in line, idlest first, and moves whoever gets work to the back', () => {
    const roster = new Roster([agent('b', 50), agent('a', 50), agent('c', 10), agent('full', 0, 2)]);
    expect(roster.agents().map((a) => a.id)).toEqual(['c', 'a', 'b']);
    const first = roster.pick('assign', undefined, new Map(), 100, 0);
    expect(first).toEqual({ agent: expect.objectContaining({ id: 'c' }) });
    roster.gave((first as { agent: ReturnType<typeof agent> }).agent, 100);
    expect(roster.agents().map((a) => [a.id, a.load])).toEqual([['a', 0], ['b', 0], ['c', 1]]);
    const c = roster.agents()[2]!;
    roster.gave(c, 200);
    expect(roster.agents().map((a) => a.id)).toEqual(['a', 'b']);
    roster.undo(c);
    expect(roster.agents().map((a) => [a.id, a.load])).toEqual([['a', 0], ['b', 0], ['c', 1]]);
    roster.full(c);
    expect(roster.agents().map((a) => a.id)).toEqual(['a', 'b']);
  });

  it('picks what pickAgent picks from the same agents, whatever the queues, the history and the work given', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const arbitraryAgent = fc.record({
      id: fc.constantFrom(...ids),
      lastWorkAt: fc.integer({ min: 0, max: 50 }),
      load: fc.integer({ min: 0, max: 2 }),
      capacity: fc.integer({ min: 1, max: 3 }),
      queues: fc.option(fc.subarray(['sales', 'support'], { minLength: 1 }), { nil: undefined }),
    });
    const step = fc.record({
      mode: fc.constantFrom<RoutingMode>('offer', 'assign'),
      queue: fc.option(fc.constantFrom('sales', 'support'), { nil: undefined }),
      tried: fc.dictionary(fc.constantFrom(...ids), fc.integer({ min: 0, max: 100 })),
      outcome: fc.constantFrom('given', 'taken', 'full'),
      // Hand-outs of one dispatch run share a clock reading: ties are broken by id.
      later: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.uniqueArray(arbitraryAgent, { selector: (a) => a.id }), fc.array(step, { maxLength: 12 }), (agents, steps) => {
        const copies = agents.map((a) => ({ ...a }));
        const roster = new Roster(agents.map((a) => ({ ...a })));
        let now = 60;
        for (const { mode, queue, tried, outcome, later } of steps) {
          if (later) now += 10;
          const history = new Map(Object.entries(tried));
          // The reference: pickAgent over the agents with room who take the queue, as dispatch filtered them before.
          const eligible = copies.filter((a) => a.load < a.capacity && (!queue || !a.queues || a.queues.includes(queue)));
          const expected = eligible.length ? pickAgent(mode, eligible, history, now, 30) : { retryAt: Infinity };
          const picked = roster.pick(mode, queue, history, now, 30);
          if ('retryAt' in expected) {
            expect(picked).toEqual(expected);
            continue;
          }
          expect('agent' in picked && picked.agent.id).toBe(expected.agent.id);
          const mine = (picked as { agent: (typeof copies)[number] }).agent;
          const theirs = expected.agent;
          roster.gave(mine, now);
          theirs.load++;
          theirs.lastWorkAt = now;
          if (outcome !== 'given') {
            roster.undo(mine);
            theirs.load--;
          }
          if (outcome === 'full') {
            roster.full(mine);
            theirs.load = theirs.capacity;
          }
          expect(roster.agents().map((a) => a.id)).toEqual(
            copies
              .filter((a) => a.load < a.capacity)
              .sort((x, y) => x.lastWorkAt - y.lastWorkAt || (x.id < y.id ? -1 : 1))
              .map((a) => a.id),
          );
        }
      }),
    );
  });
});
