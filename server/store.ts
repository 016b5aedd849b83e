/**
 * The feed server's durable state in one SQLite file: agents, conversations,
 * their messages, offers and the per-agent event log that makes resume
 * lossless. Every method is synchronous (better-sqlite3), so a state change and
 * the event that reports it are written in one transaction and can never be
 * seen apart.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { keyedHash } from './secrets.ts';
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

const SCHEMA = `
create table if not exists agents (
  id text primary key,
  name text not null,
  token_hash text not null unique,
  capacity integer not null default 10,
  last_work_at integer not null default 0,
  enabled integer not null default 1
);
create table if not exists conversations (
  id text primary key,
  scenario text not null,
  channel text not null,
  customer text not null,
  comment text not null,
  queue text,
  waiting_since integer not null,
  context text,
  status text not null,
  agent_id text,
  created_at integer not null,
  address text
);
create index if not exists conversations_status on conversations(status, waiting_since);
create table if not exists messages (
  id text primary key,
  conversation_id text not null,
  sender text not null,
  author text,
  text text not null,
  at integer not null,
  client_msg_id text,
  media text,
  unique (conversation_id, client_msg_id)
);
create index if not exists messages_conversation on messages(conversation_id, at);
create table if not exists offers (
  id text primary key,
  conversation_id text not null,
  agent_id text not null,
  offered_at integer not null,
  expires_at integer not null,
  state text not null,
  closed_at integer,
  reason text
);
create index if not exists offers_open on offers(state, expires_at);
create index if not exists offers_agent on offers(agent_id, state);
create index if not exists conversations_agent on conversations(agent_id, status);
create index if not exists offers_conversation on offers(conversation_id);
create table if not exists events (
  agent_id text not null,
  seq integer not null,
  body text not null,
  primary key (agent_id, seq)
) without rowid;
create table if not exists inbound (
  source text not null,
  external_id text not null,
  conversation_id text not null,
  primary key (source, external_id)
) without rowid;
create table if not exists outbox (
  message_id text primary key,
  conversation_id text not null,
  agent_id text not null,
  channel text not null,
  to_address text not null,
  text text not null,
  status text not null,
  attempts integer not null default 0,
  next_at integer not null,
  attempt_at integer,
  provider_id text,
  error_code text,
  error_text text,
  retryable integer,
  updated_at integer not null
);
create index if not exists outbox_due on outbox(status, next_at);
create index if not exists outbox_provider on outbox(channel, provider_id);
create index if not exists outbox_conversation on outbox(conversation_id, status);
create table if not exists agent_cursors (
  agent_id text primary key,
  last_seq integer not null
);
`;

type Row = Record<string, unknown>;

/** The first unfinished reply of each conversation not in the JSON list bound first: only it may go. */
const OUTBOX_HEADS = `select o.* from outbox o
  where o.status in ('queued', 'sending')
  and o.conversation_id not in (select value from json_each(?))
  and not exists (select 1 from outbox p where p.conversation_id = o.conversation_id and p.rowid < o.rowid and p.status in ('queued', 'sending'))`;

function toConversation(row: Row): ConversationRecord {
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

function toMessage(row: Row): Message {
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

function toOutbox(row: Row): OutboxRecord {
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

function toOffer(row: Row): OfferRecord {
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

export class Store {
  readonly db: Database.Database;
  readonly #tokenKey: Buffer;

  /**
   * @param file a path, or `:memory:` for tests that need no restart.
   * @param tokenKey keys the hashes of agent tokens (kept in the data directory), so a copy of the database alone gives nothing to guess against.
   */
  constructor(file: string, tokenKey: Buffer) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.#tokenKey = tokenKey;
    this.db = new Database(file);
    // Customers' names, numbers and messages: for the server's owner only.
    if (file !== ':memory:') chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    // An answered write survives power loss: each commit reaches the disk. Group commit keeps that affordable.
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
    this.#migrate();
  }

  /** Brings a data file written by an earlier version up to the current schema. */
  #migrate(): void {
    const columns = (this.db.prepare('pragma table_info(offers)').all() as Row[]).map((c) => c.name);
    if (!columns.includes('closed_at')) this.db.exec('alter table offers add column closed_at integer');
    if (!columns.includes('reason')) this.db.exec('alter table offers add column reason text');
    const convColumns = (this.db.prepare('pragma table_info(conversations)').all() as Row[]).map((c) => c.name);
    if (!convColumns.includes('address')) this.db.exec('alter table conversations add column address text');
    const agentColumns = (this.db.prepare('pragma table_info(agents)').all() as Row[]).map((c) => c.name);
    if (!agentColumns.includes('enabled')) this.db.exec('alter table agents add column enabled integer not null default 1');
    if (!agentColumns.includes('login')) this.db.exec('alter table agents add column login text');
    if (!agentColumns.includes('source')) this.db.exec(`alter table agents add column source text not null default 'file'`);
    if (!agentColumns.includes('queues')) this.db.exec('alter table agents add column queues text');
    // Tokens issued before this (ms) open nothing: the admin signed the agent out everywhere.
    if (!agentColumns.includes('tokens_after')) this.db.exec('alter table agents add column tokens_after integer not null default 0');
    this.db.exec('create unique index if not exists agents_login on agents(login) where enabled = 1');
    const messageColumns = (this.db.prepare('pragma table_info(messages)').all() as Row[]).map((c) => c.name);
    if (!messageColumns.includes('media')) this.db.exec('alter table messages add column media text');
    this.db.exec('create index if not exists conversations_address on conversations(channel, address, status)');
  }

  /** Statements are compiled once: compiling costs more than running most of them. */
  readonly #statements = new Map<string, Database.Statement>();
  #prepare(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // -- agents ---------------------------------------------------------------

  /**
   * Makes `agents` the whole set of agents from the agents file: adds them or
   * updates their name, token, login, queues and capacity, and disables every
   * other agent from the file (its token and login no longer open anything).
   * Agents provisioned on sign-in stay, unless the file now names their
   * login. Returns the ids disabled now.
   */
  replaceAgents(agents: readonly AgentSeed[]): string[] {
    const upsert = this.#prepare(
      `insert into agents (id, name, token_hash, login, queues, capacity, enabled, source) values (@id, @name, @hash, @login, @queues, @capacity, 1, 'file')
       on conflict(id) do update set name = excluded.name, token_hash = excluded.token_hash, login = excluded.login, queues = excluded.queues,
         capacity = excluded.capacity, enabled = 1, source = 'file'`,
    );
    return this.transaction(() => {
      const keep = new Set(agents.map((a) => a.id));
      const logins = new Set(agents.flatMap((a) => (a.login ? [a.login.toLowerCase()] : [])));
      const gone = (this.#prepare('select id, source, login from agents where enabled = 1').all() as Row[])
        .filter((r) => !keep.has(r.id as string) && (r.source !== 'sso' || logins.has(r.login as string)))
        .map((r) => r.id as string);
      // A disabled agent's hash and login are cleared, so a later agent may reuse nothing of it.
      const disable = this.#prepare(`update agents set enabled = 0, token_hash = 'disabled:' || id, login = null where id = ?`);
      for (const id of gone) disable.run(id);
      for (const a of agents) {
        upsert.run({
          id: a.id,
          name: a.name,
          // No static token: a hash nothing can match.
          hash: a.token ? keyedHash(this.#tokenKey, a.token) : `none:${a.id}`,
          login: a.login?.toLowerCase() ?? null,
          queues: a.queues ? JSON.stringify(a.queues) : null,
          capacity: a.capacity ?? 10,
        });
      }
      return gone;
    });
  }

  /** The enabled agent whose sign-in login this is. */
  agentByLogin(login: string): (AgentRecord & { source: string; tokensAfter: number; fileQueues: boolean }) | undefined {
    const row = this.#prepare('select * from agents where login = ? and enabled = 1').get(login.toLowerCase()) as Row | undefined;
    return row && { ...this.#agent(row), source: row.source as string, tokensAfter: row.tokens_after as number, fileQueues: row.source === 'file' && row.queues !== null };
  }

  /** Creates (or enables again) an agent on first sign-in; their id is stable for the same person. */
  provisionAgent(agent: ProvisionedAgent, capacity: number): void {
    this.#prepare(
      `insert into agents (id, name, token_hash, login, capacity, enabled, source) values (@id, @name, 'none:' || @id, @login, @capacity, 1, 'sso')
       on conflict(id) do update set name = excluded.name, login = excluded.login, enabled = 1`,
    ).run({ ...agent, login: agent.login.toLowerCase(), capacity });
  }

  /** The queues an agent's groups give them at sign-in (undefined: every queue). */
  setAgentQueues(id: string, queues: string[] | undefined): void {
    this.#prepare('update agents set queues = ? where id = ?').run(queues ? JSON.stringify(queues) : null, id);
  }

  /** Signs an agent out everywhere: tokens issued until now open nothing. */
  revokeAgentTokens(id: string, at: number): boolean {
    return this.#prepare('update agents set tokens_after = ? where id = ? and enabled = 1').run(at, id).changes === 1;
  }

  /** Agents the agents file no longer names: their open offers and chats go back to the queue. */
  disabledAgentIds(): string[] {
    return (this.#prepare('select id from agents where enabled = 0').all() as Row[]).map((r) => r.id as string);
  }

  agentByToken(token: string): AgentRecord | undefined {
    const row = this.#prepare('select * from agents where token_hash = ? and enabled = 1').get(keyedHash(this.#tokenKey, token)) as Row | undefined;
    return row && this.#agent(row);
  }

  agent(id: string): AgentRecord | undefined {
    const row = this.#prepare('select * from agents where id = ?').get(id) as Row | undefined;
    return row && this.#agent(row);
  }

  #agent(row: Row): AgentRecord {
    return {
      id: row.id as string,
      name: row.name as string,
      capacity: row.capacity as number,
      ...(row.queues ? { queues: JSON.parse(row.queues as string) as string[] } : {}),
      lastWorkAt: row.last_work_at as number,
    };
  }

  touchAgent(id: string, at: number): void {
    this.#prepare('update agents set last_work_at = ? where id = ?').run(at, id);
  }

  /**
   * The given agents with their load (open offers plus active conversations,
   * what counts against capacity), in one query.
   */
  /** Every agent, with its load: open offers plus active conversations. */
  agentsWithLoad(): (AgentRecord & { load: number })[] {
    // One pass over what is open, not two look-ups an agent: dispatch runs for every new conversation.
    const loads = new Map<string, number>();
    const busy = this.#prepare(
      `select agent_id, count(*) as n from offers where state = 'open' group by agent_id
       union all
       select agent_id, count(*) as n from conversations where status = 'active' and agent_id is not null group by agent_id`,
    ).all() as Row[];
    for (const row of busy) loads.set(row.agent_id as string, (loads.get(row.agent_id as string) ?? 0) + (row.n as number));
    const rows = this.#prepare('select * from agents where enabled = 1').all() as Row[];
    return rows.map((row) => ({ ...this.#agent(row), load: loads.get(row.id as string) ?? 0 }));
  }

  // -- conversations and messages ---------------------------------------------

  insertConversation(c: ConversationRecord): void {
    this.#prepare(
        `insert into conversations (id, scenario, channel, customer, comment, queue, waiting_since, context, status, agent_id, created_at, address)
         values (@id, @scenario, @channel, @customer, @comment, @queue, @waitingSince, @context, @status, @agentId, @createdAt, @address)`,
      )
      .run({
        ...c,
        customer: JSON.stringify(c.customer),
        queue: c.queue ?? null,
        context: c.context ? JSON.stringify(c.context) : null,
        address: c.address ?? null,
      });
  }

  /** The conversation a customer on this channel address is still in, if any. */
  openConversationAt(channel: Conversation['channel'], address: string): ConversationRecord | undefined {
    const row = this.#prepare(`select * from conversations where channel = ? and address = ? and status != 'ended' order by created_at desc limit 1`)
      .get(channel, address) as Row | undefined;
    return row && toConversation(row);
  }

  /** Records a provider's message id once; false when it was seen before (a webhook retry). */
  claimInbound(source: string, externalId: string, conversationId: string): boolean {
    return this.#prepare('insert into inbound (source, external_id, conversation_id) values (?, ?, ?) on conflict do nothing').run(source, externalId, conversationId).changes === 1;
  }

  inboundConversation(source: string, externalId: string): string | undefined {
    const row = this.#prepare('select conversation_id from inbound where source = ? and external_id = ?').get(source, externalId) as Row | undefined;
    return row?.conversation_id as string | undefined;
  }

  conversation(id: string): ConversationRecord | undefined {
    const row = this.#prepare('select * from conversations where id = ?').get(id) as Row | undefined;
    return row && toConversation(row);
  }

  setConversationStatus(id: string, status: Conversation['status'], agentId: string | null): void {
    this.#prepare('update conversations set status = ?, agent_id = ? where id = ?').run(status, agentId, id);
  }

  /** Waiting conversations, longest waiting first. */
  waitingConversations(): ConversationRecord[] {
    return (
      this.#prepare(`select * from conversations where status = 'waiting' order by waiting_since, created_at`).all() as Row[]
    ).map(toConversation);
  }

  activeConversations(agentId: string): ConversationRecord[] {
    return (this.#prepare(`select * from conversations where status = 'active' and agent_id = ? order by created_at`).all(agentId) as Row[]).map(toConversation);
  }

  /** The offer through which the agent accepted the conversation; none for an assigned one. */
  acceptedOfferId(conversationId: string, agentId: string): string | undefined {
    const row = this.#prepare(`select id from offers where conversation_id = ? and agent_id = ? and state = 'accepted' order by offered_at desc`).get(conversationId, agentId) as Row | undefined;
    return row?.id as string | undefined;
  }

  /**
   * Stores a message. Returns undefined when one with the same client id is
   * already stored for the conversation: a retried send changes nothing.
   */
  insertMessage(m: Message): Message | undefined {
    const result = this.#prepare(
        `insert into messages (id, conversation_id, sender, author, text, at, client_msg_id, media)
         values (@id, @conversationId, @from, @author, @text, @at, @clientMsgId, @media)
         on conflict (conversation_id, client_msg_id) do nothing`,
      )
      .run({ ...m, author: m.author ?? null, clientMsgId: m.clientMsgId ?? null, media: m.media?.length ? JSON.stringify(m.media) : null });
    return result.changes === 1 ? m : undefined;
  }

  /** The conversation's messages, oldest first; agent replies on provider channels with their delivery. */
  transcript(conversationId: string): Message[] {
    return (
      this.#prepare(
        `select m.*, o.status as o_status, o.updated_at as o_updated_at, o.error_code as o_error_code, o.error_text as o_error_text, o.retryable as o_retryable
         from messages m left join outbox o on o.message_id = m.id
         where m.conversation_id = ? order by m.at, m.rowid`,
      ).all(conversationId) as Row[]
    ).map(toMessage);
  }

  /** When the customer last wrote in the conversation (Messenger's reply window runs from it). */
  lastCustomerMessageAt(conversationId: string): number | undefined {
    const row = this.#prepare(`select max(at) as at from messages where conversation_id = ? and sender = 'customer'`).get(conversationId) as Row;
    return (row.at as number | null) ?? undefined;
  }

  // -- outbox: agent replies on their way to a provider --------------------------

  insertOutbox(o: Pick<OutboxRecord, 'messageId' | 'conversationId' | 'agentId' | 'channel' | 'to' | 'text'>, at: number): void {
    this.#prepare(
      `insert into outbox (message_id, conversation_id, agent_id, channel, to_address, text, status, next_at, updated_at)
       values (?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
    ).run(o.messageId, o.conversationId, o.agentId, o.channel, o.to, o.text, at, at);
  }

  outbox(messageId: string): OutboxRecord | undefined {
    const row = this.#prepare('select * from outbox where message_id = ?').get(messageId) as Row | undefined;
    return row && toOutbox(row);
  }

  /**
   * Replies due to go out, oldest first, at most one per conversation: a
   * conversation's replies leave in the order the agent wrote them, so one
   * waiting for a retry (or in doubt) holds back those after it. `busy`
   * conversations have an attempt in flight.
   */
  dueOutbox(now: number, limit: number, busy: readonly string[] = []): OutboxRecord[] {
    return (
      this.#prepare(`${OUTBOX_HEADS} and o.status = 'queued' and o.next_at <= ? order by o.rowid limit ?`).all(JSON.stringify(busy), now, limit) as Row[]
    ).map(toOutbox);
  }

  /** Replies whose last attempt's outcome is not known (the server stopped, or the provider's answer was lost), due to be looked up. */
  inDoubtOutbox(now: number, busy: readonly string[] = []): OutboxRecord[] {
    return (this.#prepare(`${OUTBOX_HEADS} and o.status = 'sending' and o.next_at <= ? order by o.rowid`).all(JSON.stringify(busy), now) as Row[]).map(toOutbox);
  }

  /** When the next reply (or look-up) not held back by one in flight is due, for the sender's next wake-up. */
  nextOutboxAt(busy: readonly string[] = []): number | undefined {
    const row = this.#prepare(OUTBOX_HEADS.replace('select o.*', 'select min(o.next_at) as at')).get(JSON.stringify(busy)) as Row;
    return (row.at as number | null) ?? undefined;
  }

  outboxByProviderId(channel: OutboxRecord['channel'], providerId: string): OutboxRecord | undefined {
    const row = this.#prepare('select * from outbox where channel = ? and provider_id = ?').get(channel, providerId) as Row | undefined;
    return row && toOutbox(row);
  }

  /** Provider ids already recorded for replies to this address: a reconciliation must not claim one twice. */
  providerIdsTo(channel: OutboxRecord['channel'], to: string): Set<string> {
    const rows = this.#prepare('select provider_id from outbox where channel = ? and to_address = ? and provider_id is not null').all(channel, to) as Row[];
    return new Set(rows.map((r) => r.provider_id as string));
  }

  /** Messenger replies to `to` that were sent or delivered at or before `watermark` (a delivery or read receipt covers them). */
  outboxSentUpTo(to: string, watermark: number): OutboxRecord[] {
    return (
      this.#prepare(`select * from outbox where channel = 'facebook' and to_address = ? and status in ('sent', 'delivered') and attempt_at <= ? order by rowid`).all(
        to,
        watermark,
      ) as Row[]
    ).map(toOutbox);
  }

  updateOutbox(messageId: string, change: Partial<Omit<OutboxRecord, 'messageId' | 'conversationId' | 'agentId' | 'channel' | 'to' | 'text'>>): void {
    const columns: Record<string, string> = {
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
    const entries = Object.entries(change).filter(([key]) => key in columns);
    if (entries.length === 0) return;
    const sql = `update outbox set ${entries.map(([key]) => `${columns[key]} = @${key}`).join(', ')} where message_id = @messageId`;
    const values = Object.fromEntries(entries.map(([key, value]) => [key, typeof value === 'boolean' ? (value ? 1 : 0) : (value ?? null)]));
    this.#prepare(sql).run({ ...values, messageId });
  }

  // -- offers -------------------------------------------------------------------

  insertOffer(o: OfferRecord): void {
    this.#prepare(
        `insert into offers (id, conversation_id, agent_id, offered_at, expires_at, state)
         values (@id, @conversationId, @agentId, @offeredAt, @expiresAt, @state)`,
      )
      .run(o);
  }

  offer(id: string): OfferRecord | undefined {
    const row = this.#prepare('select * from offers where id = ?').get(id) as Row | undefined;
    return row && toOffer(row);
  }

  /** Moves an open offer to `state`; false when it was no longer open. */
  closeOffer(id: string, state: Exclude<OfferState, 'open'>, at: number, reason?: string): boolean {
    return (
      this.#prepare(`update offers set state = ?, closed_at = ?, reason = ? where id = ? and state = 'open'`).run(state, at, reason ?? null, id).changes === 1
    );
  }

  /** Every offer of a conversation, oldest first: who had it, how it ended, and why. */
  offersOf(conversationId: string): (OfferRecord & { closedAt: number | null; reason: string | null })[] {
    return (this.#prepare('select * from offers where conversation_id = ? order by offered_at, rowid').all(conversationId) as Row[]).map((row) => ({
      ...toOffer(row),
      closedAt: (row.closed_at as number | null) ?? null,
      reason: (row.reason as string | null) ?? null,
    }));
  }

  openOffers(): OfferRecord[] {
    return (this.#prepare(`select * from offers where state = 'open' order by expires_at`).all() as Row[]).map(toOffer);
  }

  openOffersFor(agentId: string): OfferRecord[] {
    return (
      this.#prepare(`select * from offers where state = 'open' and agent_id = ? order by offered_at`).all(agentId) as Row[]
    ).map(toOffer);
  }

  openOfferForConversation(conversationId: string): OfferRecord | undefined {
    const row = this.#prepare(`select * from offers where state = 'open' and conversation_id = ?`)
      .get(conversationId) as Row | undefined;
    return row && toOffer(row);
  }

  /** Agents this conversation was already offered to, with when their last offer of it closed. */
  offeredAgents(conversationId: string): Map<string, number> {
    const rows = this.#prepare('select agent_id, max(coalesce(closed_at, 0)) as closed from offers where conversation_id = ? group by agent_id')
      .all(conversationId) as Row[];
    return new Map(rows.map((r) => [r.agent_id as string, r.closed as number]));
  }

  // -- per-agent event log --------------------------------------------------------

  lastSeq(agentId: string): number {
    const row = this.#prepare('select last_seq from agent_cursors where agent_id = ?').get(agentId) as Row | undefined;
    return (row?.last_seq as number | undefined) ?? 0;
  }

  /** Oldest seq still in the log, or lastSeq + 1 when it is empty. */
  firstRetainedSeq(agentId: string): number {
    const row = this.#prepare('select min(seq) as s from events where agent_id = ?').get(agentId) as Row;
    return (row.s as number | null) ?? this.lastSeq(agentId) + 1;
  }

  /** Appends an event with the agent's next seq and returns it as sent. */
  appendEvent(agentId: string, body: ServerEventBody): ServerEvent {
    const seq = this.lastSeq(agentId) + 1;
    const event = { ...body, seq } as ServerEvent;
    this.#prepare(
        `insert into agent_cursors (agent_id, last_seq) values (@agentId, @seq)
         on conflict(agent_id) do update set last_seq = @seq`,
      )
      .run({ agentId, seq });
    this.#prepare('insert into events (agent_id, seq, body) values (?, ?, ?)').run(agentId, seq, JSON.stringify(event));
    return event;
  }

  eventsAfter(agentId: string, seq: number): ServerEvent[] {
    return (
      this.#prepare('select body from events where agent_id = ? and seq > ? order by seq').all(agentId, seq) as Row[]
    ).map((r) => JSON.parse(r.body as string) as ServerEvent);
  }

  /** Forgets events the agent has acknowledged; the cursor itself stays. */
  trimEvents(agentId: string, upToSeq: number): void {
    this.#prepare('delete from events where agent_id = ? and seq <= ?').run(agentId, upToSeq);
  }
}
