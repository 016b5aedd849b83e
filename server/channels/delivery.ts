/**
 * The outbox: agent replies on SMS and Messenger, delivered at least once
 * and, as far as the provider lets anyone know, never twice.
 *
 *   queued ──attempt──► sending ──provider took it──► sent ──► delivered ──► read
 *     ▲                    │ 429, 5xx, no connection: back to queued, later (capped backoff)
 *     │                    │ final error: failed (with the provider's code and words)
 *     └── in doubt ◄───────┘ timeout, lost answer, the server stopped
 *
 * A reply is stored `queued` in the same transaction as the message itself.
 * An attempt is committed as `sending` before the provider is called, so a
 * server that dies mid-call finds it in doubt on restart and asks the
 * provider (Twilio: the Messages list; Messenger: the echo of the reply's
 * metadata) before sending it again. A conversation's replies leave in order.
 * Every status change is an event to the agent who wrote the reply.
 */
import { FeedError } from '../errors.ts';
import type { Tx } from '../event-log.ts';
import { deliveryOf, type OutboxChange, type OutboxRecord, type OutboxStatus } from '../store.ts';
import type { Work } from '../work.ts';
import { type ChannelSender, DeliveryError, type OutboundChannel, type OutboundItem } from './outbound.ts';

export interface DeliveryOptions {
  /** Attempts before a reply that keeps failing with retryable errors is called failed (the agent may retry). */
  maxAttempts?: number;
  /** First retry delay; each next one doubles, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long an SMS in doubt waits before Twilio is asked whether it has it. */
  smsDoubtMs?: number;
  /** How long a Messenger reply in doubt waits for its echo before it is sent again. */
  echoWaitMs?: number;
  /** Replies in flight at once (one per conversation). */
  concurrency?: number;
  /** How long a stopping server waits for replies in flight. */
  stopGraceMs?: number;
  random?: () => number;
}

/** Later states win; a late or repeated provider report never moves a reply back. */
const RANK: Record<OutboxStatus, number> = { queued: 0, sending: 0, sent: 1, failed: 2, delivered: 3, read: 4 };

const CHANNEL_NAMES: Record<OutboundChannel, string> = { sms: 'SMS', facebook: 'Messenger' };

export class Deliverer {
  readonly #o: Required<DeliveryOptions>;
  /** Conversations with an attempt or a look-up in flight: their later replies wait. */
  readonly #busy = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Provider reports that arrived before the provider's id was recorded (a fast callback), by provider id. */
  readonly #early = new Map<string, { status: OutboxStatus; code?: string; text?: string; at: number }>();
  #timer: NodeJS.Timeout | undefined;
  #scheduled = false;
  #running = false;
  #again = false;
  #stopped = true;

  constructor(
    private readonly work: Work,
    private readonly senders: Partial<Record<OutboundChannel, ChannelSender>>,
    options: DeliveryOptions = {},
  ) {
    this.#o = {
      maxAttempts: 8,
      baseDelayMs: 2_000,
      maxDelayMs: 5 * 60_000,
      smsDoubtMs: 15_000,
      echoWaitMs: 2 * 60_000,
      concurrency: 8,
      stopGraceMs: 2_000,
      random: Math.random,
      ...options,
    };
  }

  start(): void {
    this.#stopped = false;
    this.kick();
  }

  /** Stops sending; waits (up to `graceMs`) for attempts in flight, whose outcome is otherwise in doubt at the next start. */
  async stop(graceMs = this.#o.stopGraceMs): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  /** Queues an agent's reply, in the transaction that stores the message. It leaves once that is durable. */
  async enqueue(t: Tx, item: Pick<OutboxRecord, 'messageId' | 'conversationId' | 'agentId' | 'channel' | 'to' | 'text'>): Promise<void> {
    await t.q.insertOutbox(item, this.work.now());
    t.afterCommit(() => this.kick());
  }

  /** The agent's Retry of a reply that failed with a cause that may pass. */
  async retry(agentId: string, conversationId: string, messageId: string): Promise<void> {
    await this.work.tx(async (t) => {
      const row = await t.q.outbox(messageId);
      if (!row || row.agentId !== agentId || row.conversationId !== conversationId) {
        throw new FeedError('unknown-conversation', `no reply ${messageId} of yours in conversation ${conversationId}`, messageId);
      }
      if (row.status !== 'failed' || !row.retryable) {
        throw new FeedError('cannot-retry', row.status === 'failed' ? `a retry cannot mend this: ${row.errorText ?? 'the provider refused it'}` : 'this reply has not failed', messageId);
      }
      await this.#change(t, row, { status: 'queued', attempts: 0, nextAt: this.work.now(), errorCode: null, errorText: null, retryable: false });
      t.afterCommit(() => this.kick());
    });
  }

  /** A provider's report on a reply (Twilio status callback, Messenger delivery). Unknown ids are kept a minute: the report may beat the send's answer. */
  async report(channel: OutboundChannel, providerId: string, status: 'sent' | 'delivered' | 'read' | 'failed', error?: { code?: string; text: string; retryable?: boolean }): Promise<void> {
    await this.work.tx(async (t) => {
      const row = await t.q.outboxByProviderId(channel, providerId);
      if (!row) {
        this.#early.set(`${channel}:${providerId}`, { status, ...(error?.code ? { code: error.code } : {}), ...(error ? { text: error.text } : {}), at: this.work.now() });
        return;
      }
      await this.#change(t, row, {
        status,
        ...(status === 'failed' ? { errorCode: error?.code ?? null, errorText: error?.text ?? 'the provider could not deliver it', retryable: error?.retryable ?? false } : {}),
      });
    });
  }

  /** Messenger echoed one of our replies (its metadata names it): a reply in doubt was sent after all. */
  async echo(messageId: string, providerId: string): Promise<void> {
    await this.work.tx(async (t) => {
      const row = await t.q.outbox(messageId);
      if (!row || row.channel !== 'facebook' || row.status !== 'sending') return;
      await this.#change(t, row, { status: 'sent', providerId });
      t.afterCommit(() => this.kick());
    });
  }

  /** Messenger's delivery or read receipt by watermark: every reply to that customer sent up to it. */
  async upTo(to: string, watermark: number, status: 'delivered' | 'read'): Promise<void> {
    await this.work.tx(async (t) => {
      for (const row of await t.q.outboxSentUpTo(to, watermark)) await this.#change(t, row, { status });
    });
  }

  /** Starts due attempts and look-ups, soon (once per turn; one look at the outbox at a time). */
  kick(): void {
    if (this.#stopped || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#runOnce();
    });
  }

  async #runOnce(): Promise<void> {
    if (this.#running) return void (this.#again = true);
    this.#running = true;
    try {
      await this.#run();
    } catch (error) {
      // The store failed: look again in a while.
      this.work.log.warn('could not read the outbox; trying again shortly', { error: String(error) });
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.kick(), 1000);
      this.#timer.unref?.();
    } finally {
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    }
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    const { store } = this.work;
    const now = this.work.now();
    for (const [key, early] of this.#early) if (now - early.at > 60_000) this.#early.delete(key);
    // Replies in doubt: ask the provider (or wait for the echo) before anything is sent again.
    for (const row of await store.inDoubtOutbox(now, [...this.#busy])) {
      if (this.#busy.size < this.#o.concurrency && !this.#busy.has(row.conversationId)) this.#track(row.conversationId, this.#reconcile(row));
    }
    const free = this.#o.concurrency - this.#busy.size;
    if (free > 0) {
      for (const row of await store.dueOutbox(now, free, [...this.#busy])) {
        if (!this.#busy.has(row.conversationId)) this.#track(row.conversationId, this.#attempt(row));
      }
    }
    await this.#arm();
  }

  #track(conversationId: string, run: Promise<void>): void {
    this.#busy.add(conversationId);
    const done = run
      .catch((error: unknown) => this.work.log.warn('delivery failed unexpectedly', { conversation: conversationId, error: String(error) }))
      .finally(() => {
        this.#busy.delete(conversationId);
        this.#inFlight.delete(done);
        this.kick();
      });
    this.#inFlight.add(done);
  }

  async #arm(): Promise<void> {
    // Conversations in flight are left out: the end of their attempt kicks again.
    const at = await this.work.store.nextOutboxAt([...this.#busy]);
    clearTimeout(this.#timer);
    if (at === undefined || this.#stopped) return;
    // Due now but not started: every slot is taken, and a slot's end kicks again.
    if (at <= this.work.now() && this.#busy.size > 0) return;
    const delay = Math.min(Math.max(at - this.work.now(), 10), 2 ** 31 - 1);
    this.#timer = setTimeout(() => this.kick(), delay);
    this.#timer.unref?.();
  }

  /** Writes a change to a reply (with `expect`: only while it is still as read); false when another server changed it first. */
  async #update(messageId: string, change: OutboxChange, expect?: Pick<OutboxRecord, 'status' | 'nextAt'>): Promise<boolean> {
    return this.work.tx((t) => t.q.updateOutbox(messageId, change, expect));
  }

  async #attempt(row: OutboxRecord): Promise<void> {
    const now = this.work.now();
    const sender = this.senders[row.channel];
    if (!sender) {
      await this.work.tx((t) =>
        this.#change(t, row, {
          status: 'failed',
          errorCode: 'not-configured',
          errorText: `this server sends no ${CHANNEL_NAMES[row.channel]} replies: its operator has not configured a sender`,
          retryable: true,
        }),
      );
      return;
    }
    // Durable before the provider is called: if the server dies in the call, the next start knows it is in doubt.
    const doubt = row.channel === 'sms' ? this.#o.smsDoubtMs : this.#o.echoWaitMs;
    // The claim: only while it is still as read, so of several servers on one database only one sends it.
    if (!(await this.#update(row.messageId, { status: 'sending', attempts: row.attempts + 1, attemptAt: now, nextAt: now + doubt }, row))) return;
    await this.work.events.committed();
    if (this.#stopped) return;
    const item: OutboundItem = { ...row, attemptAt: now };
    let providerId: string;
    try {
      ({ providerId } = await sender.send(item));
    } catch (error) {
      if (this.#stopped) return;
      const current = await this.work.store.outbox(row.messageId);
      if (current?.status === 'sending') await this.#failedAttempt(current, error);
      return;
    }
    if (this.#stopped) return;
    await this.work.tx(async (t) => {
      const current = await t.q.outbox(row.messageId);
      // An echo may have settled it already.
      if (current?.status === 'sending') await this.#change(t, current, { status: 'sent', providerId });
    });
    this.work.log.info('reply sent', { channel: row.channel, conversation: row.conversationId, message: row.messageId, provider: providerId });
  }

  async #failedAttempt(row: OutboxRecord, error: unknown): Promise<void> {
    const now = this.work.now();
    const e = error instanceof DeliveryError ? error : new DeliveryError('in-doubt', `sender failed: ${String(error)}`);
    this.work.log.warn('reply not sent', { channel: row.channel, conversation: row.conversationId, message: row.messageId, kind: e.kind, code: e.code, error: e.message });
    if (e.kind === 'in-doubt') {
      // Stays `sending`; its look-up is due at nextAt.
      await this.#update(row.messageId, { errorCode: e.code ?? null, errorText: e.message });
      return;
    }
    if (e.kind === 'retry' && row.attempts < this.#o.maxAttempts) {
      await this.#update(row.messageId, { status: 'queued', nextAt: now + this.#backoff(row.attempts, e.options.retryAfterMs), errorCode: e.code ?? null, errorText: e.message });
      return;
    }
    const text = e.kind === 'retry' ? `${e.message} (gave up after ${row.attempts} attempts)` : e.message;
    await this.work.tx((t) => this.#change(t, row, { status: 'failed', errorCode: e.code ?? null, errorText: text, retryable: e.kind === 'retry' || (e.options.retryable ?? false) }));
  }

  async #reconcile(row: OutboxRecord): Promise<void> {
    const now = this.work.now();
    const sender = this.senders[row.channel];
    if (!sender) return this.#attempt(row);
    // Claimed for the look-up (its next look moves on), so another server does not look it up too.
    const claimed = { ...row, nextAt: now + this.#o.smsDoubtMs };
    if (!(await this.#update(row.messageId, { nextAt: claimed.nextAt }, row))) return;
    row = claimed;
    try {
      const found = await sender.reconcile(row);
      if (this.#stopped) return;
      const current = await this.work.store.outbox(row.messageId);
      if (current?.status !== 'sending') return; // an echo or a report settled it meanwhile
      if (typeof found === 'object' && !(await this.work.store.providerIdsTo(row.channel, row.to)).has(found.providerId)) {
        this.work.log.info('reply in doubt was sent: not sending it again', { channel: row.channel, message: row.messageId, provider: found.providerId });
        await this.work.tx((t) => this.#change(t, current, { status: 'sent', providerId: found.providerId }));
      } else if (found === 'unknown' && now < (row.attemptAt ?? 0) + this.#o.echoWaitMs) {
        await this.#update(row.messageId, { nextAt: (row.attemptAt ?? now) + this.#o.echoWaitMs });
      } else {
        this.work.log.warn('reply in doubt was not sent: sending it again', { channel: row.channel, message: row.messageId });
        await this.#update(row.messageId, { status: 'queued', nextAt: now });
      }
    } catch (error) {
      if (this.#stopped) return;
      const e = error instanceof DeliveryError ? error : new DeliveryError('retry', String(error));
      this.work.log.warn('could not ask the provider about a reply in doubt', { channel: row.channel, message: row.messageId, error: e.message });
      await this.#update(row.messageId, { nextAt: now + this.#backoff(row.attempts, e.options.retryAfterMs) });
    }
  }

  #backoff(attempts: number, retryAfterMs: number | undefined): number {
    const exponential = Math.min(this.#o.maxDelayMs, this.#o.baseDelayMs * 2 ** Math.max(0, attempts - 1));
    const jittered = exponential * (0.8 + 0.4 * this.#o.random());
    return Math.max(jittered, retryAfterMs ?? 0);
  }

  /** Moves a reply on (never back, unless to `queued` for a retry) and tells its agent. */
  async #change(t: Tx, row: OutboxRecord, change: Partial<OutboxRecord> & { status: OutboxStatus }): Promise<void> {
    if (change.status !== 'queued' && RANK[change.status] <= RANK[row.status] && row.status !== 'sending') return;
    const updatedAt = this.work.now();
    let next = { ...row, ...change, updatedAt };
    // A report that beat the send's answer applies now.
    const early = change.providerId ? this.#early.get(`${row.channel}:${change.providerId}`) : undefined;
    if (early && RANK[early.status] > RANK[next.status]) {
      this.#early.delete(`${row.channel}:${change.providerId}`);
      next = { ...next, status: early.status, ...(early.status === 'failed' ? { errorCode: early.code ?? null, errorText: early.text ?? null } : {}) };
    }
    await t.q.updateOutbox(row.messageId, {
      status: next.status,
      updatedAt,
      ...('attempts' in change ? { attempts: next.attempts } : {}),
      ...('nextAt' in change ? { nextAt: next.nextAt } : {}),
      ...('providerId' in change ? { providerId: next.providerId } : {}),
      ...('errorCode' in change || early ? { errorCode: next.errorCode } : {}),
      ...('errorText' in change || early ? { errorText: next.errorText } : {}),
      ...('retryable' in change ? { retryable: next.retryable } : {}),
    });
    await t.emit(row.agentId, { type: 'message-status', conversationId: row.conversationId, messageId: row.messageId, delivery: deliveryOf(next) });
  }
}
