/**
 * The per-agent event log and the one way state changes reach anyone: a
 * change runs in a transaction, logs the events it causes, and only once it
 * is committed are the events sent, customers told and callers answered.
 *
 * Transactions of one event-loop turn commit together, and inside the open
 * batch each change is a savepoint, so a failed change is undone alone.
 *
 * Durable before told, without stalling the server on the disk: a commit
 * writes the batch to SQLite's write-ahead log (`synchronous = NORMAL`), and
 * the log file is then flushed to disk (`fdatasync`) off the event loop
 * (Store.flushLog). Only once that returns are the batch's events sent,
 * callers answered and providers called: the guarantee of `synchronous =
 * FULL`, an fsync per answered commit. Batches committed while a flush runs
 * share the next flush (group commit), in order.
 */
import * as v from 'valibot';
import { fitTranscript, type ServerEvent, type ServerEventBody, ServerFrameSchema } from '../protocol/feed.ts';
import { FeedError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Store } from './store.ts';

/** A committed batch waiting for its flush: what it tells, and whom. */
interface Batch {
  outbox: { agentId: string; event: ServerEvent }[];
  after: (() => void)[];
  waiting: { resolve: () => void; reject: (error: Error) => void }[];
}

export class EventLog {
  readonly #outbox: { agentId: string; event: ServerEvent }[] = [];
  readonly #after: (() => void)[] = [];
  #waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Committed batches whose flush has not returned yet, oldest first. */
  #unflushed: Batch[] = [];
  #flushing = false;
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

  /** Runs `fn` once what has been written so far is committed and on disk (at once when nothing is pending). */
  afterCommit(fn: () => void): void {
    if (this.store.db.inTransaction) this.#after.push(fn);
    else if (this.#unflushed.length > 0) this.#unflushed.at(-1)!.after.push(fn);
    else fn();
  }

  /** Resolves when everything written so far is committed and on disk; rejects if that failed. */
  committed(): Promise<void> {
    if (this.store.db.inTransaction) return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
    if (this.#unflushed.length > 0) return new Promise((resolve, reject) => this.#unflushed.at(-1)!.waiting.push({ resolve, reject }));
    return Promise.resolve();
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

  /** Commits the open batch now (at the end of the turn, or before the store closes); it is told once flushed. */
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
    this.#unflushed.push({ outbox: this.#outbox.splice(0), after: this.#after.splice(0), waiting });
    this.#flush();
  }

  /** One flush at a time, for every batch committed before it began; then the next, if more came. */
  #flush(): void {
    if (this.#flushing || this.#unflushed.length === 0) return;
    this.#flushing = true;
    const batches = this.#unflushed;
    this.#unflushed = [];
    void this.store.flushLog().then(
      () => {
        this.#flushing = false;
        for (const batch of batches) {
          for (const { agentId, event } of batch.outbox) this.deliver(agentId, event);
          for (const fn of batch.after) fn();
          for (const w of batch.waiting) w.resolve();
        }
        this.#flush();
      },
      (error: unknown) => {
        // The disk refused: what was committed may not survive a crash. Nobody is told it happened;
        // agents get the events on their next resume, if the data outlives the fault.
        this.#flushing = false;
        this.log.warn('flushing the log to disk failed: the changes of these turns are not confirmed to anyone', { error: String(error) });
        for (const batch of batches) for (const w of batch.waiting) w.reject(new Error('the change could not be saved'));
        this.#flush();
      },
    );
  }

  #openBatch(): void {
    if (this.store.db.inTransaction) return;
    this.store.db.exec('begin');
    setImmediate(() => this.commitNow());
  }
}
