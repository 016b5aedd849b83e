import { describe, expect, it } from 'vitest';
import { longestIdle, pickAgent } from './routing';

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
