/**
 * The per-agent event log and the one way state changes reach anyone: a
 * change runs in a transaction, logs the events it causes, and only once it
 * is committed are the events sent, customers told and callers answered.
 *
 * Transactions of one event-loop turn commit together (group commit: one
 * fsync for all of them, with `synchronous = FULL`). Inside the open batch
 * each change is a savepoint, so a failed change is undone alone.
 */
import * as v from 'valibot';
import { fitTranscript, type ServerEvent, type ServerEventBody, ServerFrameSchema } from '../protocol/feed.ts';
import { FeedError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Store } from './store.ts';

/**
 * Under load (the last batch held several changes), a batch opened within
 * this long after the last commit waits out the rest of it, so commits (each
 * an fsync) come at most about once per window plus fsync. A quiet server
 * commits at the end of the turn.
 */
const GROUP_COMMIT_WINDOW_MS = 2;

export class EventLog {
  readonly #outbox: { agentId: string; event: ServerEvent }[] = [];
  readonly #after: (() => void)[] = [];
  #waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** When the last commit ended (performance.now()), and how many changes the open and the last batch hold. */
  #lastCommitAt = -Infinity;
  #lastBatchSize = 0;
  #batchSize = 0;
  /** Events that failed the protocol schema at logging time (a bug: each is refused, never sent). */
  invalidEvents = 0;

  /**
   * @param deliver sends a committed event to its agent's connection, if it has one.
   * @param onRollback told when changes were undone (caches built on them are stale).
   */
  constructor(
    private readonly store: Store,
    private readonly deliver: (agentId: string, event: ServerEvent) => void,
    private readonly log: Logger,
    private readonly onRollback: () => void = () => {},
  ) {}

  /** Runs a state change in the open batch; its events go out after the batch commits. */
  tx<T>(fn: () => T): T {
    this.#openBatch();
    this.#batchSize++;
    const mark = this.#outbox.length;
    const after = this.#after.length;
    try {
      return this.store.transaction(fn);
    } catch (error) {
      this.#outbox.length = mark;
      this.#after.length = after;
      this.onRollback();
      throw error;
    }
  }

  /** Runs `fn` once what has been written so far is committed (at once when nothing is pending). */
  afterCommit(fn: () => void): void {
    if (this.store.db.inTransaction) this.#after.push(fn);
    else fn();
  }

  /** Resolves when everything written so far is committed; rejects if that commit failed. */
  committed(): Promise<void> {
    if (!this.store.db.inTransaction) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Logs an event for the agent; it is sent when the batch commits, or replayed on resume if the agent is away. */
  emit(agentId: string, body: ServerEventBody): ServerEvent {
    const event = this.append(agentId, body);
    this.#outbox.push({ agentId, event });
    return event;
  }

  /**
   * Logs an event without sending it (the caller sends it, as a replay). An
   * `accepted` or `assigned` event carries as much of the transcript as a
   * frame may; every event is checked against the protocol schema, so no
   * client is ever sent a frame it must refuse.
   */
  append(agentId: string, body: ServerEventBody): ServerEvent {
    let fitted = body;
    if (body.type === 'accepted' || body.type === 'assigned') {
      const { transcript, trimmed } = fitTranscript(body);
      if (trimmed > 0) {
        this.log.warn('transcript too long for one frame: the event carries the newest messages', { agent: agentId, trimmed });
        fitted = { ...body, transcript };
      }
    }
    const result = v.safeParse(ServerFrameSchema, { ...fitted, seq: 1 });
    if (!result.success) {
      this.invalidEvents++;
      const issue = result.issues[0];
      const where = issue.path?.map((p) => String(p.key)).join('.');
      this.log.warn('refused to log an event the protocol does not allow', { agent: agentId, type: body.type, error: `${where}: ${issue.message}` });
      throw new FeedError('internal', 'the server could not apply that change');
    }
    return this.store.appendEvent(agentId, fitted);
  }

  /** Commits the open batch now (at the end of the turn, or before the store closes). */
  commitNow(): void {
    if (!this.store.db.inTransaction || !this.store.db.open) return;
    const waiting = this.#waiting.splice(0);
    try {
      this.store.db.exec('commit');
    } catch (error) {
      if (this.store.db.inTransaction) this.store.db.exec('rollback');
      this.#outbox.length = 0;
      this.#after.length = 0;
      this.onRollback();
      this.log.warn('commit failed: the changes of this turn are undone', { error: String(error) });
      for (const w of waiting) w.reject(new Error('the change could not be saved'));
      return;
    }
    this.#lastCommitAt = performance.now();
    this.#lastBatchSize = this.#batchSize;
    for (const { agentId, event } of this.#outbox.splice(0)) this.deliver(agentId, event);
    for (const fn of this.#after.splice(0)) fn();
    for (const w of waiting) w.resolve();
  }

  #openBatch(): void {
    if (this.store.db.inTransaction) return;
    this.store.db.exec('begin');
    this.#batchSize = 0;
    // Quiet, the batch commits at the end of this turn. Busy (the last batch held several changes
    // and ended moments ago), it stays open a little longer, so the next turns share its fsync.
    const wait = this.#lastBatchSize > 1 ? GROUP_COMMIT_WINDOW_MS - (performance.now() - this.#lastCommitAt) : 0;
    if (wait > 0) setTimeout(() => this.commitNow(), wait);
    else setImmediate(() => this.commitNow());
  }
}
