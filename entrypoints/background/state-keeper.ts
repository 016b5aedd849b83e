/**
 * The worker's in-memory copy of the feed state, which is only a cache:
 * every change is written to `storage.session` before it has effects
 * (notifications, lookups, the feed cursor), and a restarted worker loads it
 * back and expires at once what fell due while it was gone. Changes run one
 * at a time, in order.
 *
 * Views may show a change while it is being written (`onView`): the write
 * costs a few milliseconds on the path from feed frame to painted alert, and
 * showing early loses nothing. A worker that dies before the write has not
 * saved the feed cursor either, so the feed replays the event.
 */
import { compactForStorage, EMPTY_STATE, expireDue, type FeedState, nextDeadline, upgradeState } from './feed-state';

export interface StateKeeperOptions {
  load(): Promise<FeedState>;
  save(state: FeedState): Promise<void>;
  /** Called with each change as it is being saved: for views only. */
  onView?(state: FeedState): void;
  /** Called after each saved change (also when it could only be kept in memory). */
  onChange(state: FeedState): void;
  /**
   * The change could not be stored whole (storage.session full): `compacted`
   * says a smaller copy was stored instead, else only memory has it.
   */
  onSaveError?(error: unknown, compacted: boolean): void;
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
      const loaded = upgradeState(stored);
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
      const saved = this.#save(next);
      this.#o.onView?.(next);
      await saved;
      this.#o.onChange(next);
    }
    this.#arm();
    return this.#state;
  }

  /** Stores the state; when it does not fit, a compacted copy. Never throws: the agent keeps what memory has. */
  async #save(state: FeedState): Promise<void> {
    try {
      await this.#o.save(state);
    } catch (error) {
      try {
        await this.#o.save(compactForStorage(state));
        this.#o.onSaveError?.(error, true);
      } catch (again) {
        this.#o.onSaveError?.(again, false);
      }
    }
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const at = nextDeadline(this.#state);
    this.#o.scheduleWake(at);
    if (at === undefined) return;
    this.#timer = setTimeout(() => void this.update((s, now) => expireDue(s, now)), Math.max(0, at - this.#o.now()));
  }
}
