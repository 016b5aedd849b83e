/**
 * The worker's in-memory copy of the feed state, which is only a cache:
 * every change is written to `storage.session` before anyone is told, and a
 * restarted worker loads it back and expires at once what fell due while it
 * was gone. Changes run one at a time, in order.
 */
import { EMPTY_STATE, expireDue, type FeedState, nextDeadline } from '../../utils/feed-state';

export interface StateKeeperOptions {
  load(): Promise<FeedState>;
  save(state: FeedState): Promise<void>;
  /** Called after each saved change. */
  onChange(state: FeedState): void;
  /** Wakes a stopped worker at the next deadline (an alarm in production). */
  scheduleWake(at: number | undefined): void;
  now?: () => number;
}

export class StateKeeper {
  #state: FeedState = EMPTY_STATE;
  #queue: Promise<unknown>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #o: StateKeeperOptions & { now: () => number };

  constructor(options: StateKeeperOptions) {
    this.#o = { now: Date.now, ...options };
    this.#queue = this.#o.load().then((stored) => {
      // A state saved by an older version may lack newer fields.
      const loaded = { ...EMPTY_STATE, ...stored };
      this.#state = loaded;
      return this.#commit(expireDue(loaded, this.#o.now()), true);
    });
  }

  /** Resolves once the stored state is loaded. */
  get ready(): Promise<unknown> {
    return this.#queue;
  }

  get state(): FeedState {
    return this.#state;
  }

  /** Applies a change after every earlier one; resolves with the state after it. */
  update(change: (state: FeedState, now: number) => FeedState): Promise<FeedState> {
    const run = this.#queue.then(() => this.#commit(change(this.#state, this.#o.now())));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #commit(next: FeedState, force = false): Promise<FeedState> {
    if (next !== this.#state || force) {
      this.#state = next;
      await this.#o.save(next);
      this.#o.onChange(next);
    }
    this.#arm();
    return this.#state;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const at = nextDeadline(this.#state);
    this.#o.scheduleWake(at);
    if (at === undefined) return;
    this.#timer = setTimeout(() => void this.update((s, now) => expireDue(s, now)), Math.max(0, at - this.#o.now()));
  }
}
