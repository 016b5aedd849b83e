/**
 * The embedded store: one SQLite file (better-sqlite3, WAL, `synchronous =
 * FULL`). Queries are synchronous underneath; transactions run one at a time,
 * and those of one event-loop turn commit together (group commit: one fsync
 * for all of them). Inside the open batch each transaction is a savepoint,
 * so a failed one is undone alone.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { keyedHash } from './secrets.ts';
import type { Conversation, Message, ServerEvent, ServerEventBody } from '../protocol/feed.ts';
import {
  type AgentRecord,
  type AgentSeed,
  type Committing,
  type ConversationRecord,
  type OfferRecord,
  type OfferState,
  OUTBOX_COLUMNS,
  type OutboxChange,
  type OutboxRecord,
  type ProvisionedAgent,
  type Queries,
  type Row,
  type Store,
  toAgent,
  toConversation,
  toMessage,
  toOffer,
  toOutbox,
} from './store.ts';

/**
 * Under load (the last batch held several changes), a batch opened within
 * this long after the last commit waits out the rest of it, so commits (each
 * an fsync) come at most about once per window plus fsync. A quiet server
 * commits at the end of the turn.
 */
const GROUP_COMMIT_WINDOW_MS = 2;

interface Batch {
  size: number;
  durable: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
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

/** The first unfinished reply of each conversation not in the JSON list bound first: only it may go. */
const OUTBOX_HEADS = `select o.* from outbox o
  where o.status in ('queued', 'sending')
  and o.conversation_id not in (select value from json_each(?))
  and not exists (select 1 from outbox p where p.conversation_id = o.conversation_id and p.rowid < o.rowid and p.status in ('queued', 'sending'))`;

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
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

  async close(): Promise<void> {
    await this.#lock;
    this.commitNow();
    this.db.close();
  }

  /** Transactions run one after another: each waits for the one before to finish. */
  #lock: Promise<unknown> = Promise.resolve();
  /** The open batch: changes made since the last commit, and the promise its commit settles. */
  #batch: Batch | undefined;
  /** When the last commit ended (performance.now()), and how many changes it held. */
  #lastCommitAt = -Infinity;
  #lastBatchSize = 0;
  /** Batches committed (each one fsync). */
  commits = 0;

  transaction<T>(fn: (q: Queries) => Promise<T>): Promise<Committing<T>> {
    const run = async (): Promise<Committing<T>> => {
      const batch = this.#openBatch();
      batch.size++;
      this.#prepare('savepoint tx').run();
      try {
        const value = await fn(this);
        this.#prepare('release tx').run();
        return { value, durable: batch.durable };
      } catch (error) {
        if (this.db.inTransaction) {
          this.#prepare('rollback to tx').run();
          this.#prepare('release tx').run();
        }
        throw error;
      }
    };
    const result = this.#lock.then(run, run);
    this.#lock = result.catch(() => {});
    return result;
  }

  /** Commits the open batch now (at the end of the turn, or before the store closes). Call only between transactions. */
  commitNow(): void {
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = undefined;
    if (!this.db.open) return batch.reject(new Error('the store is closed'));
    try {
      this.#prepare('commit').run();
    } catch (error) {
      if (this.db.inTransaction) this.#prepare('rollback').run();
      return batch.reject(new Error(`the change could not be saved: ${String(error)}`));
    }
    this.#lastCommitAt = performance.now();
    this.#lastBatchSize = batch.size;
    this.commits++;
    batch.resolve();
  }

  #openBatch(): Batch {
    if (this.#batch) return this.#batch;
    this.#prepare('begin').run();
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const durable = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    // Someone may never listen (a change nobody waits for): a failed commit is reported through those who do.
    durable.catch(() => {});
    const batch: Batch = (this.#batch = { size: 0, durable, resolve, reject });
    // Quiet, the batch commits at the end of this turn. Busy (the last batch held several changes
    // and ended moments ago), it stays open a little longer, so the next turns share its fsync.
    const commit = () => {
      this.#lock = this.#lock.then(() => {
        if (this.#batch === batch) this.commitNow();
      });
    };
    const wait = this.#lastBatchSize > 1 ? GROUP_COMMIT_WINDOW_MS - (performance.now() - this.#lastCommitAt) : 0;
    if (wait > 0) setTimeout(commit, wait);
    else setImmediate(commit);
    return batch;
  }

  /** Runs a synchronous write as its own transaction (startup, before any batch). */
  #writeNow<T>(fn: () => T): T {
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
  async replaceAgents(agents: readonly AgentSeed[]): Promise<string[]> {
    const upsert = this.#prepare(
      `insert into agents (id, name, token_hash, login, queues, capacity, enabled, source) values (@id, @name, @hash, @login, @queues, @capacity, 1, 'file')
       on conflict(id) do update set name = excluded.name, token_hash = excluded.token_hash, login = excluded.login, queues = excluded.queues,
         capacity = excluded.capacity, enabled = 1, source = 'file'`,
    );
    return this.#writeNow(() => {
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
  async agentByLogin(login: string): Promise<(AgentRecord & { source: string; tokensAfter: number; fileQueues: boolean }) | undefined> {
    const row = this.#prepare('select * from agents where login = ? and enabled = 1').get(login.toLowerCase()) as Row | undefined;
    return row && { ...toAgent(row), source: row.source as string, tokensAfter: row.tokens_after as number, fileQueues: row.source === 'file' && row.queues !== null };
  }

  /** Creates (or enables again) an agent on first sign-in; their id is stable for the same person. */
  async provisionAgent(agent: ProvisionedAgent, capacity: number): Promise<void> {
    this.#prepare(
      `insert into agents (id, name, token_hash, login, capacity, enabled, source) values (@id, @name, 'none:' || @id, @login, @capacity, 1, 'sso')
       on conflict(id) do update set name = excluded.name, login = excluded.login, enabled = 1`,
    ).run({ ...agent, login: agent.login.toLowerCase(), capacity });
  }

  /** The queues an agent's groups give them at sign-in (undefined: every queue). */
  async setAgentQueues(id: string, queues: string[] | undefined): Promise<void> {
    this.#prepare('update agents set queues = ? where id = ?').run(queues ? JSON.stringify(queues) : null, id);
  }

  /** Signs an agent out everywhere: tokens issued until now open nothing. */
  async revokeAgentTokens(id: string, at: number): Promise<boolean> {
    return this.#prepare('update agents set tokens_after = ? where id = ? and enabled = 1').run(at, id).changes === 1;
  }

  /** Agents the agents file no longer names: their open offers and chats go back to the queue. */
  async disabledAgentIds(): Promise<string[]> {
    return (this.#prepare('select id from agents where enabled = 0').all() as Row[]).map((r) => r.id as string);
  }

  async agentByToken(token: string): Promise<AgentRecord | undefined> {
    const row = this.#prepare('select * from agents where token_hash = ? and enabled = 1').get(keyedHash(this.#tokenKey, token)) as Row | undefined;
    return row && toAgent(row);
  }

  async agent(id: string): Promise<AgentRecord | undefined> {
    const row = this.#prepare('select * from agents where id = ?').get(id) as Row | undefined;
    return row && toAgent(row);
  }

  /** One process applies changes one at a time, and dispatch counts what it gives: its loads are exact, and there is nothing to wait for. */
  /** Transactions run one at a time here, and dispatch's loads are exact: the agent has room. */
  async roomFor(agentId: string, workAt: number): Promise<boolean> {
    await this.touchAgent(agentId, workAt);
    return true;
  }

  async touchAgent(id: string, at: number): Promise<void> {
    this.#prepare('update agents set last_work_at = ? where id = ?').run(at, id);
  }

  /** Every agent, with its load: open offers plus active conversations. */
  async agentsWithLoad(): Promise<(AgentRecord & { load: number })[]> {
    // One pass over what is open, not two look-ups an agent: dispatch runs for every new conversation.
    const loads = new Map<string, number>();
    const busy = this.#prepare(
      `select agent_id, count(*) as n from offers where state = 'open' group by agent_id
       union all
       select agent_id, count(*) as n from conversations where status = 'active' and agent_id is not null group by agent_id`,
    ).all() as Row[];
    for (const row of busy) loads.set(row.agent_id as string, (loads.get(row.agent_id as string) ?? 0) + (row.n as number));
    const rows = this.#prepare('select * from agents where enabled = 1').all() as Row[];
    return rows.map((row) => ({ ...toAgent(row), load: loads.get(row.id as string) ?? 0 }));
  }

  // -- conversations and messages ---------------------------------------------

  async insertConversation(c: ConversationRecord): Promise<void> {
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
  async openConversationAt(channel: Conversation['channel'], address: string): Promise<ConversationRecord | undefined> {
    const row = this.#prepare(`select * from conversations where channel = ? and address = ? and status != 'ended' order by created_at desc limit 1`)
      .get(channel, address) as Row | undefined;
    return row && toConversation(row);
  }

  /** Records a provider's message id once; false when it was seen before (a webhook retry). */
  async claimInbound(source: string, externalId: string, conversationId: string): Promise<boolean> {
    return this.#prepare('insert into inbound (source, external_id, conversation_id) values (?, ?, ?) on conflict do nothing').run(source, externalId, conversationId).changes === 1;
  }

  async inboundConversation(source: string, externalId: string): Promise<string | undefined> {
    const row = this.#prepare('select conversation_id from inbound where source = ? and external_id = ?').get(source, externalId) as Row | undefined;
    return row?.conversation_id as string | undefined;
  }

  async conversation(id: string): Promise<ConversationRecord | undefined> {
    const row = this.#prepare('select * from conversations where id = ?').get(id) as Row | undefined;
    return row && toConversation(row);
  }

  async setConversationStatus(id: string, status: Conversation['status'], agentId: string | null): Promise<void> {
    this.#prepare('update conversations set status = ?, agent_id = ? where id = ?').run(status, agentId, id);
  }

  async moveConversation(id: string, from: Conversation['status'], to: Conversation['status'], agentId: string | null): Promise<boolean> {
    return this.#prepare('update conversations set status = ?, agent_id = ? where id = ? and status = ?').run(to, agentId, id, from).changes === 1;
  }

  async waitingCount(): Promise<number> {
    return (this.#prepare(`select count(*) as n from conversations where status = 'waiting'`).get() as Row).n as number;
  }

  /** Waiting conversations, longest waiting first. */
  async waitingConversations(): Promise<ConversationRecord[]> {
    return (
      this.#prepare(`select * from conversations where status = 'waiting' order by waiting_since, created_at`).all() as Row[]
    ).map(toConversation);
  }

  async activeConversations(agentId: string): Promise<ConversationRecord[]> {
    return (this.#prepare(`select * from conversations where status = 'active' and agent_id = ? order by created_at`).all(agentId) as Row[]).map(toConversation);
  }

  /** The offer through which the agent accepted the conversation; none for an assigned one. */
  async acceptedOfferId(conversationId: string, agentId: string): Promise<string | undefined> {
    const row = this.#prepare(`select id from offers where conversation_id = ? and agent_id = ? and state = 'accepted' order by offered_at desc`).get(conversationId, agentId) as Row | undefined;
    return row?.id as string | undefined;
  }

  /**
   * Stores a message. Returns undefined when one with the same client id is
   * already stored for the conversation: a retried send changes nothing.
   */
  async insertMessage(m: Message): Promise<Message | undefined> {
    const result = this.#prepare(
        `insert into messages (id, conversation_id, sender, author, text, at, client_msg_id, media)
         values (@id, @conversationId, @from, @author, @text, @at, @clientMsgId, @media)
         on conflict (conversation_id, client_msg_id) do nothing`,
      )
      .run({ ...m, author: m.author ?? null, clientMsgId: m.clientMsgId ?? null, media: m.media?.length ? JSON.stringify(m.media) : null });
    return result.changes === 1 ? m : undefined;
  }

  /** The conversation's messages, oldest first; agent replies on provider channels with their delivery. */
  async transcript(conversationId: string): Promise<Message[]> {
    return (
      this.#prepare(
        `select m.*, o.status as o_status, o.updated_at as o_updated_at, o.error_code as o_error_code, o.error_text as o_error_text, o.retryable as o_retryable
         from messages m left join outbox o on o.message_id = m.id
         where m.conversation_id = ? order by m.at, m.rowid`,
      ).all(conversationId) as Row[]
    ).map(toMessage);
  }

  /** When the customer last wrote in the conversation (Messenger's reply window runs from it). */
  async lastCustomerMessageAt(conversationId: string): Promise<number | undefined> {
    const row = this.#prepare(`select max(at) as at from messages where conversation_id = ? and sender = 'customer'`).get(conversationId) as Row;
    return (row.at as number | null) ?? undefined;
  }

  // -- outbox: agent replies on their way to a provider --------------------------

  async insertOutbox(o: Pick<OutboxRecord, 'messageId' | 'conversationId' | 'agentId' | 'channel' | 'to' | 'text'>, at: number): Promise<void> {
    this.#prepare(
      `insert into outbox (message_id, conversation_id, agent_id, channel, to_address, text, status, next_at, updated_at)
       values (?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
    ).run(o.messageId, o.conversationId, o.agentId, o.channel, o.to, o.text, at, at);
  }

  async outbox(messageId: string): Promise<OutboxRecord | undefined> {
    const row = this.#prepare('select * from outbox where message_id = ?').get(messageId) as Row | undefined;
    return row && toOutbox(row);
  }

  /**
   * Replies due to go out, oldest first, at most one per conversation: a
   * conversation's replies leave in the order the agent wrote them, so one
   * waiting for a retry (or in doubt) holds back those after it. `busy`
   * conversations have an attempt in flight.
   */
  async dueOutbox(now: number, limit: number, busy: readonly string[] = []): Promise<OutboxRecord[]> {
    return (
      this.#prepare(`${OUTBOX_HEADS} and o.status = 'queued' and o.next_at <= ? order by o.rowid limit ?`).all(JSON.stringify(busy), now, limit) as Row[]
    ).map(toOutbox);
  }

  /** Replies whose last attempt's outcome is not known (the server stopped, or the provider's answer was lost), due to be looked up. */
  async inDoubtOutbox(now: number, busy: readonly string[] = []): Promise<OutboxRecord[]> {
    return (this.#prepare(`${OUTBOX_HEADS} and o.status = 'sending' and o.next_at <= ? order by o.rowid`).all(JSON.stringify(busy), now) as Row[]).map(toOutbox);
  }

  /** When the next reply (or look-up) not held back by one in flight is due, for the sender's next wake-up. */
  async nextOutboxAt(busy: readonly string[] = []): Promise<number | undefined> {
    const row = this.#prepare(OUTBOX_HEADS.replace('select o.*', 'select min(o.next_at) as at')).get(JSON.stringify(busy)) as Row;
    return (row.at as number | null) ?? undefined;
  }

  async outboxByProviderId(channel: OutboxRecord['channel'], providerId: string): Promise<OutboxRecord | undefined> {
    const row = this.#prepare('select * from outbox where channel = ? and provider_id = ?').get(channel, providerId) as Row | undefined;
    return row && toOutbox(row);
  }

  /** Provider ids already recorded for replies to this address: a reconciliation must not claim one twice. */
  async providerIdsTo(channel: OutboxRecord['channel'], to: string): Promise<Set<string>> {
    const rows = this.#prepare('select provider_id from outbox where channel = ? and to_address = ? and provider_id is not null').all(channel, to) as Row[];
    return new Set(rows.map((r) => r.provider_id as string));
  }

  /** Messenger replies to `to` that were sent or delivered at or before `watermark` (a delivery or read receipt covers them). */
  async outboxSentUpTo(to: string, watermark: number): Promise<OutboxRecord[]> {
    return (
      this.#prepare(`select * from outbox where channel = 'facebook' and to_address = ? and status in ('sent', 'delivered') and attempt_at <= ? order by rowid`).all(
        to,
        watermark,
      ) as Row[]
    ).map(toOutbox);
  }

  async updateOutbox(messageId: string, change: OutboxChange, expect?: Pick<OutboxRecord, 'status' | 'nextAt'>): Promise<boolean> {
    const columns = OUTBOX_COLUMNS;
    const entries = Object.entries(change).filter(([key]) => key in columns);
    if (entries.length === 0) return false;
    const sql = `update outbox set ${entries.map(([key]) => `${columns[key]} = @${key}`).join(', ')} where message_id = @messageId${expect ? ' and status = @expectStatus and next_at = @expectNextAt' : ''}`;
    const values = Object.fromEntries(entries.map(([key, value]) => [key, typeof value === 'boolean' ? (value ? 1 : 0) : (value ?? null)]));
    return this.#prepare(sql).run({ ...values, messageId, ...(expect ? { expectStatus: expect.status, expectNextAt: expect.nextAt } : {}) }).changes === 1;
  }

  // -- offers -------------------------------------------------------------------

  async openOffer(o: OfferRecord): Promise<boolean> {
    if (!(await this.moveConversation(o.conversationId, 'waiting', 'offered', null))) return false;
    this.#prepare(
        `insert into offers (id, conversation_id, agent_id, offered_at, expires_at, state)
         values (@id, @conversationId, @agentId, @offeredAt, @expiresAt, @state)`,
      )
      .run(o);
    return true;
  }

  async offer(id: string): Promise<OfferRecord | undefined> {
    const row = this.#prepare('select * from offers where id = ?').get(id) as Row | undefined;
    return row && toOffer(row);
  }

  /** Moves an open offer to `state`; false when it was no longer open. */
  async closeOffer(id: string, state: Exclude<OfferState, 'open'>, at: number, reason?: string): Promise<boolean> {
    return (
      this.#prepare(`update offers set state = ?, closed_at = ?, reason = ? where id = ? and state = 'open'`).run(state, at, reason ?? null, id).changes === 1
    );
  }

  /** Every offer of a conversation, oldest first: who had it, how it ended, and why. */
  async offersOf(conversationId: string): Promise<(OfferRecord & { closedAt: number | null; reason: string | null })[]> {
    return (this.#prepare('select * from offers where conversation_id = ? order by offered_at, rowid').all(conversationId) as Row[]).map((row) => ({
      ...toOffer(row),
      closedAt: (row.closed_at as number | null) ?? null,
      reason: (row.reason as string | null) ?? null,
    }));
  }

  async openOffers(): Promise<OfferRecord[]> {
    return (this.#prepare(`select * from offers where state = 'open' order by expires_at`).all() as Row[]).map(toOffer);
  }

  async openOffersFor(agentId: string): Promise<OfferRecord[]> {
    return (
      this.#prepare(`select * from offers where state = 'open' and agent_id = ? order by offered_at`).all(agentId) as Row[]
    ).map(toOffer);
  }

  async openOfferForConversation(conversationId: string): Promise<OfferRecord | undefined> {
    const row = this.#prepare(`select * from offers where state = 'open' and conversation_id = ?`)
      .get(conversationId) as Row | undefined;
    return row && toOffer(row);
  }

  /** Agents this conversation was already offered to, with when their last offer of it closed. */
  async offeredAgents(conversationId: string): Promise<Map<string, number>> {
    const rows = this.#prepare('select agent_id, max(coalesce(closed_at, 0)) as closed from offers where conversation_id = ? group by agent_id')
      .all(conversationId) as Row[];
    return new Map(rows.map((r) => [r.agent_id as string, r.closed as number]));
  }

  async offeredAgentsOf(conversationIds: readonly string[]): Promise<Map<string, Map<string, number>>> {
    const result = new Map<string, Map<string, number>>();
    for (const id of conversationIds) result.set(id, await this.offeredAgents(id));
    return result;
  }

  // -- per-agent event log --------------------------------------------------------

  async lastSeq(agentId: string): Promise<number> {
    const row = this.#prepare('select last_seq from agent_cursors where agent_id = ?').get(agentId) as Row | undefined;
    return (row?.last_seq as number | undefined) ?? 0;
  }

  async lastSeqs(agentIds: readonly string[]): Promise<Map<string, number>> {
    const rows = this.#prepare('select agent_id, last_seq from agent_cursors where agent_id in (select value from json_each(?))').all(JSON.stringify(agentIds)) as Row[];
    return new Map(rows.map((r) => [r.agent_id as string, r.last_seq as number]));
  }

  /** Oldest seq still in the log, or lastSeq + 1 when it is empty. */
  async firstRetainedSeq(agentId: string): Promise<number> {
    const row = this.#prepare('select min(seq) as s from events where agent_id = ?').get(agentId) as Row;
    return (row.s as number | null) ?? (await this.lastSeq(agentId)) + 1;
  }

  /** Appends an event with the agent's next seq and returns it as sent. */
  async appendEvent(agentId: string, body: ServerEventBody): Promise<ServerEvent> {
    const seq = (await this.lastSeq(agentId)) + 1;
    const event = { ...body, seq } as ServerEvent;
    this.#prepare(
        `insert into agent_cursors (agent_id, last_seq) values (@agentId, @seq)
         on conflict(agent_id) do update set last_seq = @seq`,
      )
      .run({ agentId, seq });
    this.#prepare('insert into events (agent_id, seq, body) values (?, ?, ?)').run(agentId, seq, JSON.stringify(event));
    return event;
  }

  async eventsAfter(agentId: string, seq: number): Promise<ServerEvent[]> {
    return (
      this.#prepare('select body from events where agent_id = ? and seq > ? order by seq').all(agentId, seq) as Row[]
    ).map((r) => JSON.parse(r.body as string) as ServerEvent);
  }

  /** Forgets events the agent has acknowledged; the cursor itself stays. */
  async trimEvents(agentId: string, upToSeq: number): Promise<void> {
    this.#prepare('delete from events where agent_id = ? and seq <= ?').run(agentId, upToSeq);
  }
}
