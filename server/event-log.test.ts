/**
 * Group commit: the changes of a turn share one commit, and under load the
 * next batch waits a moment so that more turns share its fsync. Counted in
 * commits, on a fake clock: each "turn" below is 0.2 ms of it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventLog } from './event-log.ts';
import { silentLogger } from './logger.ts';
import { SqliteStore } from './store-sqlite.ts';

const stores: SqliteStore[] = [];
beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] }));
afterEach(() => {
  vi.useRealTimers();
  for (const s of stores.splice(0)) void s.close();
});

async function setup() {
  const store = new SqliteStore(':memory:', Buffer.alloc(32, 1));
  stores.push(store);
  await store.replaceAgents([{ id: 'a1', name: 'Alex', token: 'group-commit-token-0123456789' }]);
  const sent: number[] = [];
  const log = new EventLog(store, (_agent, event) => void sent.push(event.seq), silentLogger);
  const change = () => void log.tx((tx) => tx.emit('a1', { type: 'conversation-ended', conversationId: 'c1', by: 'system' }));
  /** Lets 0.2 ms pass: what is due runs (immediates, timers). */
  const nextTurn = () => vi.advanceTimersByTimeAsync(0.2);
  /** Until everything written is committed. */
  const settle = async () => {
    const done = t.log.committed();
    await vi.advanceTimersByTimeAsync(5);
    await done;
  };
  const t = { log, sent, change, nextTurn, settle, commits: () => store.commits };
  return t;
}

describe('EventLog group commit', () => {
  it('commits a quiet change at the end of its turn, and sends its event only then', async () => {
    const t = await setup();
    t.change();
    expect(t.sent).toEqual([]);
    await t.nextTurn();
    expect(t.commits()).toBe(1);
    expect(t.sent).toEqual([1]);
    // Quiet again (one change a batch): each turn's change is its own commit, none waits.
    for (let i = 0; i < 3; i++) {
      t.change();
      await t.nextTurn();
      expect(t.commits()).toBe(2 + i);
    }
  });

  it('under load, the changes of the turns that follow a busy batch share its next commit', async () => {
    const t = await setup();
    // A busy turn: two changes, one commit.
    t.change();
    t.change();
    await t.nextTurn();
    expect(t.commits()).toBe(1);
    // Five turns in a row, a change each: they join one batch rather than five.
    for (let i = 0; i < 5; i++) {
      t.change();
      await t.nextTurn();
    }
    await t.settle();
    expect(t.commits()).toBe(2);
    expect(t.sent).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
