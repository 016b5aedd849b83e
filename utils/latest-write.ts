/**
 * Writes only the newest of a value that changes faster than it can be
 * stored: one write at a time, and every value set while a write runs shares
 * the next one. A burst of a thousand changes is a handful of writes.
 */
export class LatestWrite<T> {
  #latest: T | undefined;
  #written: T | undefined;
  #writes: Promise<void> = Promise.resolve();

  /**
   * `write` should say what failed itself; if it throws, the callers waiting
   * on that write get the error and the next write still runs.
   */
  constructor(private readonly write: (value: T) => Promise<void>) {}

  /** Resolves once `value`, or a value set after it, is written. */
  set(value: T): Promise<void> {
    this.#latest = value;
    const run = this.#writes.then(async () => {
      const value = this.#latest as T;
      if (Object.is(value, this.#written)) return;
      this.#written = value;
      try {
        await this.write(value);
      } catch (error) {
        // Not written: the same value set again is tried again (writes run one at a time, so nothing replaced it).
        this.#written = undefined;
        throw error;
      }
    });
    this.#writes = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every value set so far is written. */
  settled(): Promise<void> {
    return this.#writes;
  }
}
