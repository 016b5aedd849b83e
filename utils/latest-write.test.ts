import { describe, expect, it } from 'vitest';
import { LatestWrite } from './latest-write';

describe('LatestWrite', () => {
  it('writes the first value at once and everything set during that write as one, the newest', async () => {
    const written: number[] = [];
    let finish!: () => void;
    const w = new LatestWrite<number>(async (v) => {
      written.push(v);
      if (v === 1) await new Promise<void>((resolve) => (finish = resolve));
    });
    const first = w.set(1);
    await Promise.resolve();
    const later = [2, 3, 4].map((v) => w.set(v));
    finish();
    await Promise.all([first, ...later]);
    expect(written).toEqual([1, 4]);
  });

  it('does not write the same value twice', async () => {
    const written: string[] = [];
    const w = new LatestWrite<string>(async (v) => void written.push(v));
    await w.set('a');
    await w.set('a');
    await w.settled();
    expect(written).toEqual(['a']);
  });

  it('a write that throws fails its callers only; the next write runs', async () => {
    const written: string[] = [];
    const w = new LatestWrite<string>(async (v) => {
      if (v === 'bad') throw new Error('disk full');
      written.push(v);
    });
    await expect(w.set('bad')).rejects.toThrow('disk full');
    await w.set('good');
    expect(written).toEqual(['good']);
  });

  it('tries a value again when its write failed, even the same value', async () => {
    let fail = true;
    const written: string[] = [];
    const w = new LatestWrite<string>(async (v) => {
      if (fail) throw new Error('quota');
      written.push(v);
    });
    await expect(w.set('state')).rejects.toThrow('quota');
    fail = false;
    await w.set('state');
    expect(written).toEqual(['state']);
  });
});
