/**
 * The worker's in-memory copy of the feed state, which is only a cache:
 * every change is written to `storage.session` before it has effects
 * (notifications, lookups, the feed cursor), and a restarted worker loads it
 * back and expires at once what fell due while it was gone. Changes apply in
 * order, each to the state the previous one left.
 *
 * A change is shown to the views (`onView`) as soon as it applies, before any
 * write: a new offer does not wait behind the write of the change before it.
 * Writes run one at a time, each storing the newest state, so changes that
 * came during a write share the next one; `onChange` follows each write with
 * the state it stored. Showing early loses nothing: a worker that dies before
 * the write has not saved the feed cursor either, so the feed replays the
 * event.
 */
import { LatestWrite } from '../../utils/latest-write';
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
  /** Writes the newest state, one write at a time; `onChange` follows each write. */
  readonly #writes = new LatestWrite<FeedState>(async (state) => {
    await this.#save(state);
    try {
      this.#o.onChange(state);
    } catch (error) {
      console.error('[deskbell] a state change handler failed:', error);
    }
  });
  readonly #loaded: Promise<unknown>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The deadline the timer and the wake-up are set for; null before the first. */
  #armedAt: number | undefined | null = null;
  readonly #o: StateKeeperOptions & { now: () => number };

  constructor(options: StateKeeperOptions) {
    this.#o = { now: Date.now, ...options };
    this.#loaded = this.#o.load().then((stored) => {
      // A state saved by an older version may lack newer fields.
      const loaded = upgradeState(stored);
      this.#state = loaded;
      return this.#commit(expireDue(loaded, this.#o.now()), true);
    });
  }

  /** Resolves once the stored state is loaded (and what fell due meanwhile is expired and stored). */
  get ready(): Promise<unknown> {
    return this.#loaded;
  }

  get state(): FeedState {
    return this.#state;
  }

  /**
   * Applies a change after every earlier one (at once, once the stored state
   * is loaded); resolves with the state it made, once that state is stored.
   */
  update(change: (state: FeedState, now: number) => FeedState): Promise<FeedState> {
    return this.#loaded.then(() => this.#commit(change(this.#state, this.#o.now())));
  }

  async #commit(next: FeedState, force = false): Promise<FeedState> {
    const changed = next !== this.#state || force;
    if (changed) {
      this.#state = next;
      this.#o.onView?.(next);
    }
    this.#arm();
    if (changed) await this.#writes.set(next);
    return next;
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

  /**
   * Sets the timer and the wake-up (an alarm: a call into the browser, which
   * stores it) for the next deadline, only when that deadline moved: a burst
   * of offers behind the first one's deadline sets nothing.
   */
  #arm(): void {
    const at = nextDeadline(this.#state);
    if (at === this.#armedAt) return;
    this.#armedAt = at;
    clearTimeout(this.#timer);
    this.#o.scheduleWake(at);
    if (at === undefined) return;
    this.#timer = setTimeout(() => {
      // Whatever the timer finds (a clock that ran early expires nothing), the next deadline is set again.
      this.#armedAt = null;
      void this.update((s, now) => expireDue(s, now));
    }, Math.max(0, at - this.#o.now()));
  }
}
