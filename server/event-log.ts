/**
 * The per-agent event log and the one way state changes reach anyone: a
 * change runs in a transaction, logs the events it causes, and only once it
 * is durable are the events sent, customers told and callers answered.
 *
 * How a change becomes durable is the store's business (SQLite: group commit
 * of a turn's changes; PostgreSQL: each its own transaction).
 */
import * as v from 'valibot';
import { fitTranscript, type ServerEvent, type ServerEventBody, ServerFrameSchema } from '../protocol/feed.ts';
import { FeedError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Queries, Store } from './store.ts';

/** A change in progress: its queries, and what it will tell once durable. */
export interface Tx {
  readonly q: Queries;
  /** Logs an event for the agent; it is sent once the change is durable, or replayed on resume if the agent is away. */
  emit(agentId: string, body: ServerEventBody): Promise<ServerEvent>;
  /** Logs an event without sending it (the caller sends it, as a replay). */
  append(agentId: string, body: ServerEventBody): Promise<ServerEvent>;
  /** Runs `fn` once the change is durable (never if it is undone). */
  afterCommit(fn: () => void): void;
}

export class EventLog {
  /** Changes not yet durable: `committed()` waits for them. */
  readonly #pending = new Set<Promise<void>>();
  /** Events that failed the protocol schema at logging time (a bug: each is refused, never sent). */
  invalidEvents = 0;

  /**
   * @param deliver sends a committed event to its agent's connection, if it has one.
   * @param onRollback told when changes were undone (caches built on them are stale).
   * @param onPublished told which agents got events, once they are durable (other nodes are notified).
   */
  constructor(
    private readonly store: Store,
    private readonly deliver: (agentId: string, event: ServerEvent) => void,
    private readonly log: Logger,
    private readonly onRollback: () => void = () => {},
    private readonly onPublished?: (agentIds: Set<string>) => void,
  ) {}

  /** Runs a state change; its events go out, and its `afterCommit` work runs, once it is durable. */
  async tx<T>(fn: (t: Tx) => Promise<T>): Promise<T> {
    let events: { agentId: string; event: ServerEvent }[] = [];
    let after: (() => void)[] = [];
    let result;
    try {
      result = await this.store.transaction((q) => {
        // A transaction the store runs again starts over.
        events = [];
        after = [];
        return fn({
          q,
          emit: async (agentId, body) => {
            const event = await this.#append(q, agentId, body);
            events.push({ agentId, event });
            return event;
          },
          append: (agentId, body) => this.#append(q, agentId, body),
          afterCommit: (f) => void after.push(f),
        });
      });
    } catch (error) {
      this.onRollback();
      throw error;
    }
    const durable = result.durable.then(
      () => {
        for (const { agentId, event } of events) this.deliver(agentId, event);
        if (this.onPublished && events.length > 0) this.onPublished(new Set(events.map((e) => e.agentId)));
        for (const f of after) f();
      },
      (error: unknown) => {
        this.onRollback();
        this.log.warn('commit failed: the change is undone', { error: String(error) });
        throw error;
      },
    );
    this.#pending.add(durable);
    const settle = () => void this.#pending.delete(durable);
    durable.then(settle, settle);
    return result.value;
  }

  /** Resolves when everything written so far is durable; rejects if a commit failed. */
  async committed(): Promise<void> {
    if (this.#pending.size === 0) return;
    await Promise.all([...this.#pending]).catch(() => {
      throw new Error('the change could not be saved');
    });
  }

  /**
   * An `accepted` or `assigned` event carries as much of the transcript as a
   * frame may; every event is checked against the protocol schema, so no
   * client is ever sent a frame it must refuse.
   */
  #append(q: Queries, agentId: string, body: ServerEventBody): Promise<ServerEvent> {
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
    return q.appendEvent(agentId, fitted);
  }
}
