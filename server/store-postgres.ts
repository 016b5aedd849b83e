/**
 * The store on PostgreSQL (`--store postgres://…`), for operators who run
 * the feed on a database server, or several feed servers on one database.
 *
 * Each change is its own transaction on a pooled connection, at READ
 * COMMITTED. What two servers could both try is settled by the rows
 * themselves: a conditional UPDATE (`… where state = 'open'`) takes the
 * row's lock and re-checks the condition after a concurrent change commits,
 * so only one of two accepts, or of an accept and an expiry, wins. An
 * agent's `seq` comes from `agent_cursors` by `insert … on conflict do
 * update … returning`: the row stays locked until the change commits, so
 * seqs are gap-free and in commit order whichever server writes them.
 * A transaction that lost a deadlock or a serialization check is run again.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Conversation, Message, ServerEvent, ServerEventBody } from '../protocol/feed.ts';
import type { Logger } from './logger.ts';
import { keyedHash } from './secrets.ts';
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

const SCHEMA = `
create table if not exists agents (
  id text primary key,
  name text not null,
  token_hash text not null unique,
  capacity integer not null default 10,
  last_work_at bigint not null default 0,
  enabled integer not null default 1,
  login text,
  source text not null default 'file',
  queues text,
  tokens_after bigint not null default 0
);
create unique index if not exists agents_login on agents(login) where enabled = 1;
create table if not exists conversations (
  n bigserial,
  id text primary key,
  scenario text not null,
  channel text not null,
  customer text not null,
  comment text not null,
  queue text,
  waiting_since bigint not null,
  context text,
  status text not null,
  agent_id text,
  created_at bigint not null,
  address text
);
create index if not exists conversations_status on conversations(status, waiting_since);
create index if not exists conversations_agent on conversations(agent_id, status);
create index if not exists conversations_address on conversations(channel, address, status);
create table if not exists messages (
  n bigserial,
  id text primary key,
  conversation_id text not null,
  sender text not null,
  author text,
  text text not null,
  at bigint not null,
  client_msg_id text,
  media text,
  unique (conversation_id, client_msg_id)
);
create index if not exists messages_conversation on messages(conversation_id, at, n);
create table if not exists offers (
  n bigserial,
  id text primary key,
  conversation_id text not null,
  agent_id text not null,
  offered_at bigint not null,
  expires_at bigint not null,
  state text not null,
  closed_at bigint,
  reason text
);
create index if not exists offers_open on offers(state, expires_at);
create index if not exists offers_agent on offers(agent_id, state);
create index if not exists offers_conversation on offers(conversation_id);
create table if not exists events (
  agent_id text not null,
  seq bigint not null,
  body text not null,
  primary key (agent_id, seq)
);
create table if not exists inbound (
  source text not null,
  external_id text not null,
  conversation_id text not null,
  primary key (source, external_id)
);
create table if not exists outbox (
  n bigserial,
  message_id text primary key,
  conversation_id text not null,
  agent_id text not null,
  channel text not null,
  to_address text not null,
  text text not null,
  status text not null,
  attempts integer not null default 0,
  next_at bigint not null,
  attempt_at bigint,
  provider_id text,
  error_code text,
  error_text text,
  retryable integer,
  updated_at bigint not null
);
create index if not exists outbox_due on outbox(status, next_at);
create index if not exists outbox_provider on outbox(channel, provider_id);
create index if not exists outbox_conversation on outbox(conversation_id, status);
create table if not exists agent_cursors (
  agent_id text primary key,
  last_seq bigint not null
);
create table if not exists secrets (
  name text primary key,
  value text not null
);
create table if not exists nodes (
  id text primary key,
  seen_at bigint not null,
  started_at bigint not null,
  draining integer not null default 0
);
create table if not exists agent_presence (
  agent_id text primary key,
  node text,
  presence text not null,
  changed_at bigint not null
);
create index if not exists agent_presence_node on agent_presence(node);
`;

/** Advisory lock keys: the schema is created, and the agents file applied, by one server at a time. */
const LOCK_SCHEMA = 0x0de5_6be1;
const LOCK_AGENTS = 0x0de5_6be2;

/** The first unfinished reply of each conversation not in the array bound first: only it may go. */
const OUTBOX_HEADS = `select o.* from outbox o
  where o.status in ('queued', 'sending')
  and not (o.conversation_id = any($1::text[]))
  and not exists (select 1 from outbox p where p.conversation_id = o.conversation_id and p.n < o.n and p.status in ('queued', 'sending'))`;

/** int8 (counts, ms timestamps, seqs) as numbers: every one of them fits. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** Deadlock, serialization failure: the transaction lost a race and may simply run again. */
function lostRace(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '40P01' || code === '40001';
}

type Db = pg.Pool | pg.PoolClient;

/** The queries, on the pool (one statement each) or on one transaction's connection. */
class PgQueries implements Queries {
  constructor(
    protected readonly db: Db,
    protected readonly tokenKey: Buffer,
  ) {}

  async #rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.db.query(sql, params)).rows as Row[];
  }

  async #row(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.#rows(sql, params))[0];
  }

  async #run(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.db.query(sql, params)).rowCount ?? 0;
  }

  // -- agents ---------------------------------------------------------------

  async replaceAgents(agents: readonly AgentSeed[]): Promise<string[]> {
    const keep = new Set(agents.map((a) => a.id));
    const logins = new Set(agents.flatMap((a) => (a.login ? [a.login.toLowerCase()] : [])));
    await this.#run('select pg_advisory_xact_lock($1)', [LOCK_AGENTS]);
    const gone = (await this.#rows('select id, source, login from agents where enabled = 1'))
      .filter((r) => !keep.has(r.id as string) && (r.source !== 'sso' || logins.has(r.login as string)))
      .map((r) => r.id as string);
    for (const id of gone) await this.#run(`update agents set enabled = 0, token_hash = 'disabled:' || id, login = null where id = $1`, [id]);
    for (const a of agents) {
      await this.#run(
        `insert into agents (id, name, token_hash, login, queues, capacity, enabled, source) values ($1, $2, $3, $4, $5, $6, 1, 'file')
         on conflict (id) do update set name = excluded.name, token_hash = excluded.token_hash, login = excluded.login, queues = excluded.queues,
           capacity = excluded.capacity, enabled = 1, source = 'file'`,
        [a.id, a.name, a.token ? keyedHash(this.tokenKey, a.token) : `none:${a.id}`, a.login?.toLowerCase() ?? null, a.queues ? JSON.stringify(a.queues) : null, a.capacity ?? 10],
      );
    }
    return gone;
  }

  async agentByLogin(login: string): Promise<(AgentRecord & { source: string; tokensAfter: number; fileQueues: boolean }) | undefined> {
    const row = await this.#row('select * from agents where login = $1 and enabled = 1', [login.toLowerCase()]);
    return row && { ...toAgent(row), source: row.source as string, tokensAfter: row.tokens_after as number, fileQueues: row.source === 'file' && row.queues !== null };
  }

  async provisionAgent(agent: ProvisionedAgent, capacity: number): Promise<void> {
    await this.#run(
      `insert into agents (id, name, token_hash, login, capacity, enabled, source) values ($1, $2, 'none:' || $1, $3, $4, 1, 'sso')
       on conflict (id) do update set name = excluded.name, login = excluded.login, enabled = 1`,
      [agent.id, agent.name, agent.login.toLowerCase(), capacity],
    );
  }

  async setAgentQueues(id: string, queues: string[] | undefined): Promise<void> {
    await this.#run('update agents set queues = $1 where id = $2', [queues ? JSON.stringify(queues) : null, id]);
  }

  async revokeAgentTokens(id: string, at: number): Promise<boolean> {
    return (await this.#run('update agents set tokens_after = $1 where id = $2 and enabled = 1', [at, id])) === 1;
  }

  async disabledAgentIds(): Promise<string[]> {
    return (await this.#rows('select id from agents where enabled = 0')).map((r) => r.id as string);
  }

  async agentByToken(token: string): Promise<AgentRecord | undefined> {
    const row = await this.#row('select * from agents where token_hash = $1 and enabled = 1', [keyedHash(this.tokenKey, token)]);
    return row && toAgent(row);
  }

  async agent(id: string): Promise<AgentRecord | undefined> {
    const row = await this.#row('select * from agents where id = $1', [id]);
    return row && toAgent(row);
  }

  async touchAgent(id: string, at: number): Promise<void> {
    await this.#run('update agents set last_work_at = $1 where id = $2', [at, id]);
  }

  async roomFor(agentId: string, workAt: number): Promise<boolean> {
    // The agent's row stays locked until this change commits: another node giving the same agent work waits, then counts this one.
    if (!(await this.#row('select 1 from agents where id = $1 and enabled = 1 for update', [agentId]))) return false;
    // Counted in a statement of its own, begun after the lock was granted: it sees what the change that held the lock committed.
    return (
      (await this.#run(
        `update agents set last_work_at = $2 where id = $1 and capacity >
           (select count(*) from offers where agent_id = $1 and state = 'open') + (select count(*) from conversations where agent_id = $1 and status = 'active')`,
        [agentId, workAt],
      )) === 1
    );
  }

  async agentsWithLoad(): Promise<(AgentRecord & { load: number })[]> {
    const rows = await this.#rows(
      `select a.*, coalesce(o.n, 0) + coalesce(c.n, 0) as load from agents a
       left join (select agent_id, count(*) as n from offers where state = 'open' group by agent_id) o on o.agent_id = a.id
       left join (select agent_id, count(*) as n from conversations where status = 'active' and agent_id is not null group by agent_id) c on c.agent_id = a.id
       where a.enabled = 1`,
    );
    return rows.map((row) => ({ ...toAgent(row), load: row.load as number }));
  }

  // -- conversations and messages ---------------------------------------------

  async insertConversation(c: ConversationRecord): Promise<void> {
    await this.#run(
      `insert into conversations (id, scenario, channel, customer, comment, queue, waiting_since, context, status, agent_id, created_at, address)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [c.id, c.scenario, c.channel, JSON.stringify(c.customer), c.comment, c.queue ?? null, c.waitingSince, c.context ? JSON.stringify(c.context) : null, c.status, c.agentId, c.createdAt, c.address ?? null],
    );
  }

  async openConversationAt(channel: Conversation['channel'], address: string): Promise<ConversationRecord | undefined> {
    const row = await this.#row(`select * from conversations where channel = $1 and address = $2 and status != 'ended' order by created_at desc, n desc limit 1`, [channel, address]);
    return row && toConversation(row);
  }

  async claimInbound(source: string, externalId: string, conversationId: string): Promise<boolean> {
    return (await this.#run('insert into inbound (source, external_id, conversation_id) values ($1, $2, $3) on conflict do nothing', [source, externalId, conversationId])) === 1;
  }

  async inboundConversation(source: string, externalId: string): Promise<string | undefined> {
    return (await this.#row('select conversation_id from inbound where source = $1 and external_id = $2', [source, externalId]))?.conversation_id as string | undefined;
  }

  async conversation(id: string): Promise<ConversationRecord | undefined> {
    const row = await this.#row('select * from conversations where id = $1', [id]);
    return row && toConversation(row);
  }

  async setConversationStatus(id: string, status: Conversation['status'], agentId: string | null): Promise<void> {
    await this.#run('update conversations set status = $1, agent_id = $2 where id = $3', [status, agentId, id]);
  }

  async moveConversation(id: string, from: Conversation['status'], to: Conversation['status'], agentId: string | null): Promise<boolean> {
    return (await this.#run('update conversations set status = $1, agent_id = $2 where id = $3 and status = $4', [to, agentId, id, from])) === 1;
  }

  async waitingConversations(): Promise<ConversationRecord[]> {
    return (await this.#rows(`select * from conversations where status = 'waiting' order by waiting_since, created_at, n`)).map(toConversation);
  }

  async waitingCount(): Promise<number> {
    return (await this.#row(`select count(*) as n from conversations where status = 'waiting'`))!.n as number;
  }

  async activeConversations(agentId: string): Promise<ConversationRecord[]> {
    return (await this.#rows(`select * from conversations where status = 'active' and agent_id = $1 order by created_at, n`, [agentId])).map(toConversation);
  }

  async acceptedOfferId(conversationId: string, agentId: string): Promise<string | undefined> {
    return (await this.#row(`select id from offers where conversation_id = $1 and agent_id = $2 and state = 'accepted' order by offered_at desc, n desc limit 1`, [conversationId, agentId]))
      ?.id as string | undefined;
  }

  async insertMessage(m: Message): Promise<Message | undefined> {
    const inserted = await this.#run(
      `insert into messages (id, conversation_id, sender, author, text, at, client_msg_id, media) values ($1, $2, $3, $4, $5, $6, $7, $8)
       on conflict (conversation_id, client_msg_id) do nothing`,
      [m.id, m.conversationId, m.from, m.author ?? null, m.text, m.at, m.clientMsgId ?? null, m.media?.length ? JSON.stringify(m.media) : null],
    );
    return inserted === 1 ? m : undefined;
  }

  async transcript(conversationId: string): Promise<Message[]> {
    return (
      await this.#rows(
        `select m.*, o.status as o_status, o.updated_at as o_updated_at, o.error_code as o_error_code, o.error_text as o_error_text, o.retryable as o_retryable
         from messages m left join outbox o on o.message_id = m.id
         where m.conversation_id = $1 order by m.at, m.n`,
        [conversationId],
      )
    ).map(toMessage);
  }

  async lastCustomerMessageAt(conversationId: string): Promise<number | undefined> {
    return ((await this.#row(`select max(at) as at from messages where conversation_id = $1 and sender = 'customer'`, [conversationId]))!.at as number | null) ?? undefined;
  }

  // -- outbox -------------------------------------------------------------------

  async insertOutbox(o: Pick<OutboxRecord, 'messageId' | 'conversationId' | 'agentId' | 'channel' | 'to' | 'text'>, at: number): Promise<void> {
    await this.#run(
      `insert into outbox (message_id, conversation_id, agent_id, channel, to_address, text, status, next_at, updated_at) values ($1, $2, $3, $4, $5, $6, 'queued', $7, $7)`,
      [o.messageId, o.conversationId, o.agentId, o.channel, o.to, o.text, at],
    );
  }

  async outbox(messageId: string): Promise<OutboxRecord | undefined> {
    const row = await this.#row('select * from outbox where message_id = $1', [messageId]);
    return row && toOutbox(row);
  }

  async dueOutbox(now: number, limit: number, busy: readonly string[] = []): Promise<OutboxRecord[]> {
    return (await this.#rows(`${OUTBOX_HEADS} and o.status = 'queued' and o.next_at <= $2 order by o.n limit $3`, [busy, now, limit])).map(toOutbox);
  }

  async inDoubtOutbox(now: number, busy: readonly string[] = []): Promise<OutboxRecord[]> {
    return (await this.#rows(`${OUTBOX_HEADS} and o.status = 'sending' and o.next_at <= $2 order by o.n`, [busy, now])).map(toOutbox);
  }

  async nextOutboxAt(busy: readonly string[] = []): Promise<number | undefined> {
    return ((await this.#row(OUTBOX_HEADS.replace('select o.*', 'select min(o.next_at) as at'), [busy]))!.at as number | null) ?? undefined;
  }

  async outboxByProviderId(channel: OutboxRecord['channel'], providerId: string): Promise<OutboxRecord | undefined> {
    const row = await this.#row('select * from outbox where channel = $1 and provider_id = $2', [channel, providerId]);
    return row && toOutbox(row);
  }

  async providerIdsTo(channel: OutboxRecord['channel'], to: string): Promise<Set<string>> {
    const rows = await this.#rows('select provider_id from outbox where channel = $1 and to_address = $2 and provider_id is not null', [channel, to]);
    return new Set(rows.map((r) => r.provider_id as string));
  }

  async outboxSentUpTo(to: string, watermark: number): Promise<OutboxRecord[]> {
    return (
      await this.#rows(`select * from outbox where channel = 'facebook' and to_address = $1 and status in ('sent', 'delivered') and attempt_at <= $2 order by n`, [to, watermark])
    ).map(toOutbox);
  }

  async updateOutbox(messageId: string, change: OutboxChange, expect?: Pick<OutboxRecord, 'status' | 'nextAt'>): Promise<boolean> {
    const entries = Object.entries(change).filter(([key]) => key in OUTBOX_COLUMNS);
    if (entries.length === 0) return false;
    const sets = entries.map(([key], i) => `${OUTBOX_COLUMNS[key]} = $${i + 2}`).join(', ');
    const values = entries.map(([, value]) => (typeof value === 'boolean' ? (value ? 1 : 0) : (value ?? null)));
    const n = values.length + 2;
    const where = expect ? ` and status = $${n} and next_at = $${n + 1}` : '';
    return (await this.#run(`update outbox set ${sets} where message_id = $1${where}`, [messageId, ...values, ...(expect ? [expect.status, expect.nextAt] : [])])) === 1;
  }

  // -- offers -------------------------------------------------------------------

  async openOffer(o: OfferRecord): Promise<boolean> {
    // One round trip: the offer is recorded only if the conversation was still waiting.
    const inserted = await this.#run(
      `with moved as (update conversations set status = 'offered', agent_id = null where id = $2 and status = 'waiting' returning id)
       insert into offers (id, conversation_id, agent_id, offered_at, expires_at, state) select $1, id, $3, $4, $5, $6 from moved`,
      [o.id, o.conversationId, o.agentId, o.offeredAt, o.expiresAt, o.state],
    );
    return inserted === 1;
  }

  async offer(id: string): Promise<OfferRecord | undefined> {
    const row = await this.#row('select * from offers where id = $1', [id]);
    return row && toOffer(row);
  }

  async closeOffer(id: string, state: Exclude<OfferState, 'open'>, at: number, reason?: string): Promise<boolean> {
    return (await this.#run(`update offers set state = $1, closed_at = $2, reason = $3 where id = $4 and state = 'open'`, [state, at, reason ?? null, id])) === 1;
  }

  async offersOf(conversationId: string): Promise<(OfferRecord & { closedAt: number | null; reason: string | null })[]> {
    return (await this.#rows('select * from offers where conversation_id = $1 order by offered_at, n', [conversationId])).map((row) => ({
      ...toOffer(row),
      closedAt: (row.closed_at as number | null) ?? null,
      reason: (row.reason as string | null) ?? null,
    }));
  }

  async openOffers(): Promise<OfferRecord[]> {
    return (await this.#rows(`select * from offers where state = 'open' order by expires_at`)).map(toOffer);
  }

  async openOffersFor(agentId: string): Promise<OfferRecord[]> {
    return (await this.#rows(`select * from offers where state = 'open' and agent_id = $1 order by offered_at, n`, [agentId])).map(toOffer);
  }

  async openOfferForConversation(conversationId: string): Promise<OfferRecord | undefined> {
    const row = await this.#row(`select * from offers where state = 'open' and conversation_id = $1`, [conversationId]);
    return row && toOffer(row);
  }

  async offeredAgents(conversationId: string): Promise<Map<string, number>> {
    const rows = await this.#rows('select agent_id, max(coalesce(closed_at, 0)) as closed from offers where conversation_id = $1 group by agent_id', [conversationId]);
    return new Map(rows.map((r) => [r.agent_id as string, r.closed as number]));
  }

  async offeredAgentsOf(conversationIds: readonly string[]): Promise<Map<string, Map<string, number>>> {
    const rows = await this.#rows(
      'select conversation_id, agent_id, max(coalesce(closed_at, 0)) as closed from offers where conversation_id = any($1::text[]) group by conversation_id, agent_id',
      [conversationIds],
    );
    const result = new Map<string, Map<string, number>>(conversationIds.map((id) => [id, new Map()]));
    for (const r of rows) result.get(r.conversation_id as string)?.set(r.agent_id as string, r.closed as number);
    return result;
  }

  // -- per-agent event log --------------------------------------------------------

  async lastSeq(agentId: string): Promise<number> {
    return ((await this.#row('select last_seq from agent_cursors where agent_id = $1', [agentId]))?.last_seq as number | undefined) ?? 0;
  }

  async lastSeqs(agentIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.#rows('select agent_id, last_seq from agent_cursors where agent_id = any($1::text[])', [agentIds]);
    return new Map(rows.map((r) => [r.agent_id as string, r.last_seq as number]));
  }

  async firstRetainedSeq(agentId: string): Promise<number> {
    const row = await this.#row('select min(seq) as s from events where agent_id = $1', [agentId]);
    return (row!.s as number | null) ?? (await this.lastSeq(agentId)) + 1;
  }

  async appendEvent(agentId: string, body: ServerEventBody): Promise<ServerEvent> {
    // The cursor row stays locked until this change commits: the next seq of this agent waits for it.
    // One round trip: the seq is taken and the event stored with it, its JSON ending as JSON.stringify({ ...body, seq }) would.
    const json = JSON.stringify(body);
    const seq = (await this.#row(
      `with cursor as (insert into agent_cursors (agent_id, last_seq) values ($1, 1) on conflict (agent_id) do update set last_seq = agent_cursors.last_seq + 1 returning last_seq)
       insert into events (agent_id, seq, body) select $1, last_seq, left($2, -1) || $3 || last_seq || '}' from cursor returning seq`,
      [agentId, json, json === '{}' ? '"seq":' : ',"seq":'],
    ))!.seq as number;
    return { ...body, seq } as ServerEvent;
  }

  async eventsAfter(agentId: string, seq: number): Promise<ServerEvent[]> {
    return (await this.#rows('select body from events where agent_id = $1 and seq > $2 order by seq', [agentId, seq])).map((r) => JSON.parse(r.body as string) as ServerEvent);
  }

  async trimEvents(agentId: string, upToSeq: number): Promise<void> {
    await this.#run('delete from events where agent_id = $1 and seq <= $2', [agentId, upToSeq]);
  }
}

export interface PostgresOptions {
  /** Connections this server keeps open to the database. */
  poolSize?: number;
  logger?: Logger;
}

export class PostgresStore extends PgQueries implements Store {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;

  private constructor(pool: pg.Pool, tokenKey: Buffer) {
    super(pool, tokenKey);
    this.pool = pool;
  }

  /**
   * Connects, creates the schema if it is missing (one server at a time),
   * and reads the key of the agent-token hashes, made by the first server to
   * start on this database, so every server hashes alike.
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      application_name: 'deskbell-feed',
      connectionTimeoutMillis: 10_000,
      // A query stuck behind a lock, or a transaction left open, must not hold the server.
      statement_timeout: 15_000,
      idle_in_transaction_session_timeout: 30_000,
      types,
    });
    // An idle connection the database dropped is reported here; the pool replaces it.
    pool.on('error', (error) => options.logger?.warn('PostgreSQL connection lost; the pool makes a new one', { error: error.message }));
    try {
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [LOCK_SCHEMA]);
        await client.query(SCHEMA);
        await client.query('select pg_advisory_unlock($1)', [LOCK_SCHEMA]);
      } finally {
        client.release();
      }
      const store = new PostgresStore(pool, Buffer.alloc(0));
      const key = await store.sharedSecret('token-key', () => randomBytes(32).toString('base64url'));
      return new PostgresStore(pool, Buffer.from(key.value, 'base64url'));
    } catch (error) {
      await pool.end().catch(() => {});
      throw new Error(`cannot use the PostgreSQL store at ${redact(url)}: ${(error as Error).message}`);
    }
  }

  async transaction<T>(fn: (q: Queries) => Promise<T>): Promise<Committing<T>> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('begin');
        const value = await fn(new PgQueries(client, this.tokenKey));
        await client.query('commit');
        return { value, durable: Promise.resolve() };
      } catch (error) {
        await client.query('rollback').catch((rollbackFailed: Error) => (broken = rollbackFailed));
        if (attempt < 5 && lostRace(error)) continue;
        throw error;
      } finally {
        // A connection that could not even roll back is thrown away, not reused.
        client.release(broken);
      }
    }
  }

  /** A secret every server on this database shares, made by the first to ask; `created` when this call made it. */
  async sharedSecret(name: string, make: () => string): Promise<{ value: string; created: boolean }> {
    const made = make();
    const inserted = (await this.pool.query('insert into secrets (name, value) values ($1, $2) on conflict do nothing', [name, made])).rowCount === 1;
    const row = (await this.pool.query('select value from secrets where name = $1', [name])).rows[0] as Row;
    return { value: row.value as string, created: inserted };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The database URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return 'the given URL';
  }
}
