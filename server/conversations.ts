/**
 * Conversations and their messages: created by channels and the HTTP API,
 * written to by customers and agents, ended by either. The customer's side
 * (web chat) listens here for what happens in its conversation.
 */
import { randomUUID } from 'node:crypto';
import { CHANNEL_TEXT_LIMITS, type Conversation, type Media, MESSENGER_WINDOW_MS, type Message } from '../protocol/feed.ts';
import type { Deliverer } from './channels/delivery.ts';
import { FeedError } from './errors.ts';
import type { Tx } from './event-log.ts';
import type { ConversationRecord, Queries } from './store.ts';
import type { Work } from './work.ts';

/** What a customer-side client (web chat) hears about its conversation. */
export type ConversationUpdate =
  | { type: 'message'; message: Message }
  | { type: 'joined'; agentName: string }
  | { type: 'ended'; by: 'customer' | 'agent' | 'system' };

export interface NewConversation {
  scenario: Conversation['scenario'];
  channel: Conversation['channel'];
  customer: Conversation['customer'];
  comment: string;
  queue?: string;
  context?: Conversation['context'];
  waitingSince?: number;
  address?: string;
}

export interface InboundMessage {
  source: string;
  /** The provider's id of the message: a retried webhook is recognised by it. */
  externalId: string;
  channel: 'sms' | 'facebook';
  scenario: Conversation['scenario'];
  address: string;
  customer: Conversation['customer'];
  text: string;
  /** Photos and files the customer sent with the message (https addresses). */
  media?: Media[];
}

export class Conversations {
  readonly #watchers = new Map<string, Set<(update: ConversationUpdate) => void>>();

  /**
   * @param withdrawOffer closes the open offer of a conversation the customer left
   * @param publish tells the other nodes of a cluster (a customer's event stream may be there)
   */
  constructor(
    private readonly work: Work,
    private readonly withdrawOffer: (t: Tx, conversationId: string) => Promise<void>,
    private readonly outbox: Pick<Deliverer, 'enqueue'>,
    private readonly publish?: (conversationId: string, update: ConversationUpdate) => void,
  ) {}

  /** Listens to what happens in one conversation (the customer's side: web chat). */
  watch(conversationId: string, listener: (update: ConversationUpdate) => void): () => void {
    const set = this.#watchers.get(conversationId) ?? new Set();
    set.add(listener);
    this.#watchers.set(conversationId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#watchers.delete(conversationId);
    };
  }

  /** Tells the customer's side, once the change that caused it is durable. */
  tell(t: Tx, conversationId: string, update: ConversationUpdate): void {
    t.afterCommit(() => {
      this.#hear(conversationId, update);
      this.publish?.(conversationId, update);
    });
  }

  /** What another node told of a conversation; a message too long to be told comes by reference. */
  async told(conversationId: string, update: ConversationUpdate | { type: 'message-ref'; id: string }): Promise<void> {
    if (!this.#watchers.has(conversationId)) return;
    if (update.type !== 'message-ref') return this.#hear(conversationId, update);
    const message = (await this.work.store.transcript(conversationId)).find((m) => m.id === update.id);
    if (message) this.#hear(conversationId, { type: 'message', message });
  }

  #hear(conversationId: string, update: ConversationUpdate): void {
    for (const listener of this.#watchers.get(conversationId) ?? []) listener(update);
  }

  async create(input: NewConversation): Promise<ConversationRecord> {
    const record = await this.work.tx((t) => this.#insert(t, input), true); // a waiting conversation is nobody's load
    this.work.dispatch();
    return record;
  }

  /**
   * A message from a channel webhook: added to the customer's open
   * conversation on that address, or opening a new one. A retried webhook
   * (same provider message id) changes nothing.
   */
  async receiveInbound(inbound: InboundMessage): Promise<{ conversationId: string; duplicate: boolean }> {
    const result = await this.work.tx(async (t) => {
      const seen = await t.q.inboundConversation(inbound.source, inbound.externalId);
      if (seen) return { conversationId: seen, duplicate: true, created: false };
      // The provider's id is claimed in the same transaction as what the message does, so a crash
      // between them cannot turn the provider's retry into a second copy.
      const open = await t.q.openConversationAt(inbound.channel, inbound.address);
      if (open) {
        await t.q.claimInbound(inbound.source, inbound.externalId, open.id);
        await this.#post(t, open, inbound.text, 'customer', inbound.media);
        return { conversationId: open.id, duplicate: false, created: false };
      }
      const created = await this.#insert(t, {
        scenario: inbound.scenario,
        channel: inbound.channel,
        customer: inbound.customer,
        comment: inbound.text || describeMedia(inbound.media),
        address: inbound.address,
        firstMessage: { text: inbound.text, ...(inbound.media?.length ? { media: inbound.media } : {}) },
      });
      await t.q.claimInbound(inbound.source, inbound.externalId, created.id);
      return { conversationId: created.id, duplicate: false, created: true };
    });
    if (result.created) this.work.dispatch();
    return { conversationId: result.conversationId, duplicate: result.duplicate };
  }

  /** A message from the customer (or the bot) side of a conversation. */
  post(conversationId: string, text: string, from: 'customer' | 'bot' | 'system' = 'customer', media?: Media[]): Promise<Message> {
    return this.work.tx(async (t) => {
      const conversation = await t.q.conversation(conversationId);
      if (!conversation) throw new FeedError('unknown-conversation', `no conversation ${conversationId}`, conversationId);
      return this.#post(t, conversation, text, from, media);
    });
  }

  /** The customer left, or a channel closed the conversation. */
  async endByCustomer(conversationId: string): Promise<void> {
    await this.work.tx(async (t) => {
      const conversation = await t.q.conversation(conversationId);
      if (!conversation) throw new FeedError('unknown-conversation', `no conversation ${conversationId}`, conversationId);
      if (conversation.status === 'ended') return;
      await this.withdrawOffer(t, conversationId);
      if (conversation.status === 'active' && conversation.agentId) {
        await t.emit(conversation.agentId, { type: 'conversation-ended', conversationId, by: 'customer' });
      }
      await t.q.setConversationStatus(conversationId, 'ended', conversation.agentId);
      this.tell(t, conversationId, { type: 'ended', by: 'customer' });
    });
  }

  /**
   * An agent's message; a retried one (same client id) changes nothing. On
   * SMS and Messenger the reply is queued for the provider in the same
   * transaction, and refused up front when the channel cannot take it.
   */
  async agentMessage(agentId: string, conversationId: string, clientMsgId: string, text: string): Promise<void> {
    await this.work.tx(async (t) => {
      const c = await this.#own(t.q, agentId, conversationId);
      if (c.status !== 'active') throw new FeedError('unknown-conversation', `conversation ${conversationId} has ended`, clientMsgId);
      const outbound = (c.channel === 'sms' || c.channel === 'facebook') && c.address ? { channel: c.channel, to: c.address } : undefined;
      if (outbound) await this.#checkDeliverable(t.q, c, outbound.channel, text, clientMsgId);
      const agent = (await t.q.agent(agentId))!;
      const now = this.work.now();
      const message: Message = {
        id: randomUUID(),
        conversationId,
        from: 'agent',
        text,
        at: now,
        clientMsgId,
        author: agent.name,
        ...(outbound ? { delivery: { status: 'queued' as const, at: now } } : {}),
      };
      if (!(await t.q.insertMessage(message))) return;
      if (outbound) await this.outbox.enqueue(t, { messageId: message.id, conversationId, agentId, channel: outbound.channel, to: outbound.to, text });
      await t.emit(agentId, { type: 'message', message });
      this.tell(t, conversationId, { type: 'message', message });
    });
  }

  /** Refuses what the provider would: a reply too long for the channel, or one outside Messenger's 24-hour window. */
  async #checkDeliverable(q: Queries, c: ConversationRecord, channel: 'sms' | 'facebook', text: string, ref: string): Promise<void> {
    const limit = CHANNEL_TEXT_LIMITS[channel];
    if (text.length > limit) {
      throw new FeedError('not-deliverable', `${channel === 'sms' ? 'an SMS reply' : 'a Messenger reply'} is at most ${limit} characters; this one has ${text.length}`, ref);
    }
    if (channel === 'facebook') {
      const last = (await q.lastCustomerMessageAt(c.id)) ?? c.waitingSince;
      if (this.work.now() > last + MESSENGER_WINDOW_MS) {
        throw new FeedError('not-deliverable', `Messenger's 24-hour window closed at ${new Date(last + MESSENGER_WINDOW_MS).toISOString()}: the customer has to write first`, ref);
      }
    }
  }

  async agentEnd(agentId: string, conversationId: string): Promise<void> {
    const ended = await this.work.tx(async (t) => {
      const c = await this.#own(t.q, agentId, conversationId);
      if (c.status === 'ended') return false;
      await t.q.setConversationStatus(conversationId, 'ended', agentId);
      await t.emit(agentId, { type: 'conversation-ended', conversationId, by: 'agent' });
      this.tell(t, conversationId, { type: 'ended', by: 'agent' });
      return true;
    });
    if (ended) this.work.dispatch();
  }

  async #own(q: Queries, agentId: string, conversationId: string): Promise<ConversationRecord> {
    const c = await q.conversation(conversationId);
    if (!c || c.agentId !== agentId) throw new FeedError('unknown-conversation', `conversation ${conversationId} is not yours`, conversationId);
    return c;
  }

  /** @param input.firstMessage the customer's first words as they sent them (default: the comment); a channel's comment may only describe them. */
  async #insert(t: Tx, input: NewConversation & { firstMessage?: { text: string; media?: Media[] } }): Promise<ConversationRecord> {
    const now = this.work.now();
    const record: ConversationRecord = {
      id: randomUUID(),
      scenario: input.scenario,
      channel: input.channel,
      customer: input.customer,
      comment: input.comment,
      ...(input.queue ? { queue: input.queue } : {}),
      ...(input.context ? { context: input.context } : {}),
      waitingSince: input.waitingSince ?? now,
      status: 'waiting',
      agentId: null,
      createdAt: now,
      ...(input.address ? { address: input.address } : {}),
    };
    await t.q.insertConversation(record);
    // The customer's first words open the transcript, with what they sent along.
    const first = input.firstMessage ?? { text: input.comment };
    if (first.text || first.media?.length) {
      await t.q.insertMessage({ id: randomUUID(), conversationId: record.id, from: 'customer', at: now, ...first });
    }
    t.afterCommit(() => this.work.log.info('conversation created', { id: record.id, scenario: record.scenario }));
    return record;
  }

  async #post(t: Tx, conversation: ConversationRecord, text: string, from: 'customer' | 'bot' | 'system', media?: Media[]): Promise<Message> {
    if (conversation.status === 'ended') {
      throw new FeedError('unknown-conversation', `conversation ${conversation.id} has ended`, conversation.id);
    }
    const message: Message = { id: randomUUID(), conversationId: conversation.id, from, text, at: this.work.now(), ...(media?.length ? { media } : {}) };
    await t.q.insertMessage(message);
    if (conversation.status === 'active' && conversation.agentId) {
      await t.emit(conversation.agentId, { type: 'message', message });
    }
    this.tell(t, conversation.id, { type: 'message', message });
    return message;
  }
}

/** The comment of a conversation that opened with media only. */
function describeMedia(media: Media[] | undefined): string {
  if (!media?.length) return '';
  return media.length === 1 ? '[1 attachment]' : `[${media.length} attachments]`;
}
