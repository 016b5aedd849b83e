/**
 * The feed server's durable state: agents, conversations, their messages,
 * offers, the outbox and the per-agent event log that makes resume lossless.
 * Two stores hold it behind one interface: SQLite, the embedded default
 * (store-sqlite.ts), and PostgreSQL (store-postgres.ts). A state change and
 * the events that report it are written in one transaction (`transaction`)
 * and can never be seen apart.
 */
import type {
  Conversation,
  Customer,
  Delivery,
  DeliveryState,
  Media,
  Message,
  OfferContext,
  ServerEvent,
  ServerEventBody,
} from '../protocol/feed.ts';

export interface AgentRecord {
  id: string;
  name: string;
  capacity: number;
  /** The queues the agent takes; undefined: every queue. */
  queues?: string[];
  /** Last time the agent was offered or given work; routing prefers the longest idle. */
  lastWorkAt: number;
}

export type OfferState = 'open' | 'accepted' | 'rejected' | 'expired' | 'withdrawn';

export interface OfferRecord {
  id: string;
  conversationId: string;
  agentId: string;
  offeredAt: number;
  expiresAt: number;
  state: OfferState;
}

export interface ConversationRecord extends Conversation {
  agentId: string | null;
  createdAt: number;
  /** Where the customer is reached on the channel: phone number, Messenger id, web chat token hash. */
  address?: string;
}

/**
 * An agent's reply on its way to a provider. `sending` means an attempt
 * began and its outcome is not recorded: after a crash it is in doubt, and
 * the provider is asked before anything is sent again.
 */
export type OutboxStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

export interface OutboxRecord {
  messageId: string;
  conversationId: string;
  agentId: string;
  channel: 'sms' | 'facebook';
  to: string;
  text: string;
  status: OutboxStatus;
  attempts: number;
  nextAt: number;
  attemptAt: number | null;
  providerId: string | null;
  errorCode: string | null;
  errorText: string | null;
  retryable: boolean;
  updatedAt: number;
}

export interface AgentSeed {
  id: string;
  name: string;
  /** A static token (development, `--demo`, sites without sign-in); an agent who signs in needs none. */
  token?: string;
  /** The value of the sign-in login claim (usually the e-mail address) that is this agent. */
  login?: string;
  /** The queues the agent takes; absent: every queue (or those the agent's groups give, with sign-in). */
  queues?: string[];
  capacity?: number;
}

/** Someone created on first sign-in (`--oidc-provision`): kept across restarts, unlike agents the agents file drops. */
export interface ProvisionedAgent {
  id: string;
  name: string;
  login: string;
}

/** Every read and write the service makes, inside a transaction or not. */
export interface Queries {
  // agents
  replaceAgents(agents: readonly AgentSeed[]): Promise<string[]>;
  agentByLogin(login: string): Promise<(AgentRecord & { source: string; tokensAfter: number; fileQueues: boolean }) | undefined>;
  provisionAgent(agent: ProvisionedAgent, capacity: number): Promise<void>;
  setAgentQueues(id: string, queues: string[] | undefined): Promise<void>;
  revokeAgentTokens(id: string, at: number): Promise<boolean>;
  disabledAgentIds(): Promise<string[]>;
  agentByToken(token: string): Promise<AgentRecord | undefined>;
  agent(id: string): Promise<AgentRecord | undefined>;
  touchAgent(id: string, at: number): Promise<void>;
  /**
   * Whether the agent can take more work now, counted under a lock where
   * other processes may give it work too; when it can, it is marked as given
   * work at `workAt` (routing's idle time) in the same step.
   */
  roomFor(agentId: string, workAt: number): Promise<boolean>;
  agentsWithLoad(): Promise<(AgentRecord & { load: number })[]>;
  // conversations and messages
  insertConversation(c: ConversationRecord): Promise<void>;
  openConversationAt(channel: Conversation['channel'], address: string): Promise<ConversationRecord | undefined>;
  claimInbound(source: string, externalId: string, conversationId: string): Promise<boolean>;
  inboundConversation(source: string, externalId: string): Promise<string | undefined>;
  conversation(id: string): Promise<ConversationRecord | undefined>;
  setConversationStatus(id: string, status: Conversation['status'], agentId: string | null): Promise<void>;
  /** Moves a conversation from one status to another; false when it was no longer in `from` (someone else moved it first). */
  moveConversation(id: string, from: Conversation['status'], to: Conversation['status'], agentId: string | null): Promise<boolean>;
  waitingConversations(): Promise<ConversationRecord[]>;
  waitingCount(): Promise<number>;
  activeConversations(agentId: string): Promise<ConversationRecord[]>;
  acceptedOfferId(conversationId: string, agentId: string): Promise<string | undefined>;
  insertMessage(m: Message): Promise<Message | undefined>;
  transcript(conversationId: string): Promise<Message[]>;
  lastCustomerMessageAt(conversationId: string): Promise<number | undefined>;
  // outbox
  insertOutbox(o: Pick<OutboxRecord, 'messageId' | 'conversationId' | 'agentId' | 'channel' | 'to' | 'text'>, at: number): Promise<void>;
  outbox(messageId: string): Promise<OutboxRecord | undefined>;
  dueOutbox(now: number, limit: number, busy?: readonly string[]): Promise<OutboxRecord[]>;
  inDoubtOutbox(now: number, busy?: readonly string[]): Promise<OutboxRecord[]>;
  nextOutboxAt(busy?: readonly string[]): Promise<number | undefined>;
  outboxByProviderId(channel: OutboxRecord['channel'], providerId: string): Promise<OutboxRecord | undefined>;
  providerIdsTo(channel: OutboxRecord['channel'], to: string): Promise<Set<string>>;
  outboxSentUpTo(to: string, watermark: number): Promise<OutboxRecord[]>;
  /** Changes a reply; with `expect`, only while it still is as expected (a claim no other node can also win): false when it was not. */
  updateOutbox(messageId: string, change: OutboxChange, expect?: Pick<OutboxRecord, 'status' | 'nextAt'>): Promise<boolean>;
  // offers
  /** Moves the offer's conversation from waiting to offered and records the offer; false when it was no longer waiting (someone else moved it first). */
  openOffer(o: OfferRecord): Promise<boolean>;
  offer(id: string): Promise<OfferRecord | undefined>;
  closeOffer(id: string, state: Exclude<OfferState, 'open'>, at: number, reason?: string): Promise<boolean>;
  offersOf(conversationId: string): Promise<(OfferRecord & { closedAt: number | null; reason: string | null })[]>;
  openOffers(): Promise<OfferRecord[]>;
  openOffersFor(agentId: string): Promise<OfferRecord[]>;
  openOfferForConversation(conversationId: string): Promise<OfferRecord | undefined>;
  offeredAgents(conversationId: string): Promise<Map<string, number>>;
  /** `offeredAgents` of several conversations at once. */
  offeredAgentsOf(conversationIds: readonly string[]): Promise<Map<string, Map<string, number>>>;
  // per-agent event log
  lastSeq(agentId: string): Promise<number>;
  /** The last seq of each of these agents (0 for none yet). */
  lastSeqs(agentIds: readonly string[]): Promise<Map<string, number>>;
  firstRetainedSeq(agentId: string): Promise<number>;
  appendEvent(agentId: string, body: ServerEventBody): Promise<ServerEvent>;
  eventsAfter(agentId: string, seq: number): Promise<ServerEvent[]>;
  trimEvents(agentId: string, upToSeq: number): Promise<void>;
}

export type OutboxChange = Partial<Omit<OutboxRecord, 'messageId' | 'conversationId' | 'agentId' | 'channel' | 'to' | 'text'>>;

/** What a transaction gave back, and when it is safe on disk. */
export interface Committing<T> {
  value: T;
  /**
   * Settles when the change is durable: SQLite commits a turn's changes
   * together (group commit), PostgreSQL has committed it already. Rejects
   * when that commit failed and the change is undone.
   */
  durable: Promise<void>;
}

export interface Store extends Queries {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Runs `fn` as one transaction: all of its writes or none. `fn` may await
   * only the queries it is given (nothing slow: SQLite runs transactions one
   * at a time). A transaction that lost a race with another node's (a
   * deadlock, a serialization failure) is run again, so `fn` must have no
   * effects beyond its queries.
   */
  transaction<T>(fn: (q: Queries) => Promise<T>): Promise<Committing<T>>;
  close(): Promise<void>;
}

/** The columns of `updateOutbox`'s change, by field. */
export const OUTBOX_COLUMNS: Record<string, string> = {
  status: 'status',
  attempts: 'attempts',
  nextAt: 'next_at',
  attemptAt: 'attempt_at',
  providerId: 'provider_id',
  errorCode: 'error_code',
  errorText: 'error_text',
  retryable: 'retryable',
  updatedAt: 'updated_at',
};

export function toAgent(row: Row): AgentRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    capacity: row.capacity as number,
    ...(row.queues ? { queues: JSON.parse(row.queues as string) as string[] } : {}),
    lastWorkAt: row.last_work_at as number,
  };
}

/** A row as a driver returns it; both stores use the same column names and types (bigint read as number). */
export type Row = Record<string, unknown>;

export function toConversation(row: Row): ConversationRecord {
  return {
    id: row.id as string,
    scenario: row.scenario as Conversation['scenario'],
    channel: row.channel as Conversation['channel'],
    customer: JSON.parse(row.customer as string) as Customer,
    comment: row.comment as string,
    ...(row.queue ? { queue: row.queue as string } : {}),
    waitingSince: row.waiting_since as number,
    ...(row.context ? { context: JSON.parse(row.context as string) as OfferContext } : {}),
    status: row.status as Conversation['status'],
    agentId: (row.agent_id as string | null) ?? null,
    createdAt: row.created_at as number,
    ...(row.address ? { address: row.address as string } : {}),
  };
}

export function toMessage(row: Row): Message {
  const delivery =
    typeof row.o_status === 'string'
      ? deliveryOf({
          status: row.o_status as OutboxStatus,
          updatedAt: row.o_updated_at as number,
          errorCode: (row.o_error_code as string | null) ?? null,
          errorText: (row.o_error_text as string | null) ?? null,
          retryable: row.o_retryable === 1,
        })
      : undefined;
  return {
    id: row.id as string,
    conversationId: row.conversation_id as string,
    from: row.sender as Message['from'],
    text: row.text as string,
    at: row.at as number,
    ...(row.client_msg_id ? { clientMsgId: row.client_msg_id as string } : {}),
    ...(row.author ? { author: row.author as string } : {}),
    ...(row.media ? { media: JSON.parse(row.media as string) as Media[] } : {}),
    ...(delivery ? { delivery } : {}),
  };
}

export function toOutbox(row: Row): OutboxRecord {
  return {
    messageId: row.message_id as string,
    conversationId: row.conversation_id as string,
    agentId: row.agent_id as string,
    channel: row.channel as OutboxRecord['channel'],
    to: row.to_address as string,
    text: row.text as string,
    status: row.status as OutboxStatus,
    attempts: row.attempts as number,
    nextAt: row.next_at as number,
    attemptAt: (row.attempt_at as number | null) ?? null,
    providerId: (row.provider_id as string | null) ?? null,
    errorCode: (row.error_code as string | null) ?? null,
    errorText: (row.error_text as string | null) ?? null,
    retryable: row.retryable === 1,
    updatedAt: row.updated_at as number,
  };
}

/** What the agent is told of a reply's delivery: `sending` is still `queued` to them. */
export function deliveryOf(o: Pick<OutboxRecord, 'status' | 'updatedAt' | 'errorCode' | 'errorText' | 'retryable'>): Delivery {
  const status: DeliveryState = o.status === 'sending' ? 'queued' : o.status;
  return {
    status,
    at: o.updatedAt,
    ...(status === 'failed' ? { error: { ...(o.errorCode ? { code: o.errorCode.slice(0, 50) } : {}), text: (o.errorText ?? '').slice(0, 500) }, retryable: o.retryable } : {}),
  };
}

export function toOffer(row: Row): OfferRecord {
  return {
    id: row.id as string,
    conversationId: row.conversation_id as string,
    agentId: row.agent_id as string,
    offeredAt: row.offered_at as number,
    expiresAt: row.expires_at as number,
    state: row.state as OfferState,
  };
}

/** Strips the fields that only the server keeps, for frames sent to agents. */
export function publicConversation(c: ConversationRecord): Conversation {
  const { agentId: _agentId, createdAt: _createdAt, address: _address, ...rest } = c;
  return rest;
}
