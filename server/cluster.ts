/**
 * Several feed servers ("nodes") on one PostgreSQL database. Any node takes
 * API calls, webhooks and agents' WebSockets; the database is the arbiter
 * (store-postgres.ts) and PostgreSQL's LISTEN/NOTIFY carries the news:
 *
 * - `deskbell_events`: a node committed events for these agents. The node
 *   an agent is connected to reads them from the log (`eventsAfter` the
 *   last seq it sent), so they go out in seq order, once, whoever wrote them.
 * - `deskbell_chat`: something happened in a conversation (a web chat
 *   customer's event stream may be on another node).
 * - `deskbell_agents`: close an agent's connection on the other nodes (it
 *   connected again elsewhere, or an admin signed it out).
 * - `deskbell_dispatch`: there may be work to hand out (a conversation came
 *   in, an agent has room again); heard by the dispatcher.
 *
 * One node at a time hands out work: the dispatcher, the node whose LISTEN
 * session holds an advisory lock. Routing is then done once, not on every
 * node, and no hand-out loses a race to another node's. The lock goes with
 * the session: when the dispatcher stops, drains or dies (its connection
 * closes, or TCP keepalives find its machine gone), another node takes it
 * within a second. Correctness never rests on the lock: offering and capacity
 * are still settled by the database, so two nodes that both believe they
 * dispatch for a moment only waste work.
 *
 * Each node keeps a row in `nodes` (a heartbeat) and each connected agent a
 * row in `agent_presence`, so routing on any node knows who is available
 * anywhere, and a node that dies is noticed: its agents' offers go to
 * others after the reroute grace, and the offer timers it held fire on the
 * nodes still alive (a sweep every second; closing an offer is conditional,
 * so it happens once).
 *
 * A notification lost with a dropped LISTEN connection is caught up: after
 * it reconnects, and every few seconds anyway, each node compares the log's
 * last seq with what it sent its agents.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Presence } from '../protocol/feed.ts';
import type { ConversationUpdate } from './conversations.ts';
import type { Logger } from './logger.ts';
import { type OfferRecord, type Row, toOffer } from './store.ts';
import type { PostgresStore } from './store-postgres.ts';

/** A node that has not beaten for this long is taken for dead. */
export const NODE_DEAD_MS = 10_000;
const HEARTBEAT_MS = 2_000;
/** How often the node catches up on notifications it may have missed. */
const CATCH_UP_MS = 3_000;
/** A NOTIFY payload is at most 8,000 bytes. */
const MAX_PAYLOAD = 7_900;
/** The advisory lock the dispatcher holds ("desk"). */
const DISPATCH_LOCK = 0x6465736b;

export interface ClusterHandlers {
  /** Another node committed events for these agents. */
  events(agentIds: string[]): void;
  /** Something happened in a conversation, as told on another node. */
  chat(conversationId: string, update: ConversationUpdate | { type: 'message-ref'; id: string }): void;
  /** Close this node's connection of the agent, if any. */
  closeAgent(agentId: string, code: number, reason: string): void;
  /** The LISTEN connection came back: notifications may have been missed meanwhile. */
  catchUp(): void;
  /** Hand out what waits: this node is the dispatcher (it just became it, or another node has news). */
  dispatch(): void;
}

export class Cluster {
  readonly nodeId: string;
  #listener: pg.Client | undefined;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;
  #draining = false;
  #handlers!: ClusterHandlers;
  #dispatcher = false;
  #claiming: Promise<boolean> | undefined;
  #asking = false;
  #askAgain = false;

  constructor(
    private readonly store: PostgresStore,
    private readonly url: string,
    private readonly log: Logger,
    nodeId?: string,
  ) {
    this.nodeId = nodeId ?? randomUUID();
  }

  async start(handlers: ClusterHandlers): Promise<void> {
    this.#handlers = handlers;
    const now = Date.now();
    await this.store.pool.query(
      'insert into nodes (id, seen_at, started_at) values ($1, $2, $2) on conflict (id) do update set seen_at = excluded.seen_at, started_at = excluded.started_at, draining = 0',
      [this.nodeId, now],
    );
    await this.#listen();
    await this.#claim();
    this.#timers.push(
      setInterval(() => void this.#beat(), HEARTBEAT_MS),
      setInterval(() => handlers.catchUp(), CATCH_UP_MS),
    );
    for (const t of this.#timers) t.unref();
    this.log.info('node joined the cluster', { node: this.nodeId });
  }

  async #beat(): Promise<void> {
    try {
      await this.store.pool.query('update nodes set seen_at = $1 where id = $2', [Date.now(), this.nodeId]);
    } catch (error) {
      this.log.warn('node heartbeat failed', { error: String(error) });
    }
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'deskbell-feed-listen', keepAlive: true, keepAliveInitialDelayMillis: 5_000 });
    client.on('notification', (n) => this.#notified(n.channel, n.payload ?? ''));
    client.on('error', (error) => {
      if (this.#stopped) return;
      this.log.warn('LISTEN connection lost; reconnecting', { error: error.message });
      this.#relisten(client);
    });
    client.on('end', () => this.#relisten(client));
    await client.connect();
    // The server drops this session (and the dispatcher's lock with it) within about 11 s of this machine going silent.
    await client.query(
      'set tcp_keepalives_idle = 5; set tcp_keepalives_interval = 2; set tcp_keepalives_count = 3; listen deskbell_events; listen deskbell_chat; listen deskbell_agents; listen deskbell_dispatch',
    );
    this.#listener = client;
  }

  #relisten(lost: pg.Client): void {
    if (this.#stopped || this.#listener !== lost) return;
    this.#listener = undefined;
    // The lock went with the session.
    if (this.#dispatcher) this.log.warn('no longer the dispatcher: the LISTEN connection was lost', { node: this.nodeId });
    this.#dispatcher = false;
    void lost.end().catch(() => {});
    const retry = async (delay: number): Promise<void> => {
      if (this.#stopped) return;
      try {
        await this.#listen();
        this.#handlers.catchUp();
        if (await this.claimDispatch()) this.#handlers.dispatch();
      } catch (error) {
        this.log.warn('LISTEN connection: reconnect failed', { error: String(error) });
        setTimeout(() => void retry(Math.min(delay * 2, 10_000)), delay).unref();
      }
    };
    void retry(250);
  }

  #notified(channel: string, payload: string): void {
    const space = payload.indexOf(' ');
    const from = payload.slice(0, space);
    if (from === this.nodeId) return;
    const body = payload.slice(space + 1);
    try {
      if (channel === 'deskbell_events') this.#handlers.events(body.split(','));
      else if (channel === 'deskbell_chat') {
        const { c, u } = JSON.parse(body) as { c: string; u: ConversationUpdate };
        this.#handlers.chat(c, u);
      } else if (channel === 'deskbell_dispatch') {
        if (this.#dispatcher) this.#handlers.dispatch();
        // The dispatcher stepped down (a drain): whoever locks first takes over.
        else if (body === 'released') void this.claimDispatch().then((now) => now && this.#handlers.dispatch());
      } else if (channel === 'deskbell_agents') {
        const { a, code, reason } = JSON.parse(body) as { a: string; code: number; reason: string };
        this.#handlers.closeAgent(a, code, reason);
      }
    } catch (error) {
      this.log.warn('could not read a notification', { channel, error: String(error) });
    }
  }

  async #notify(channel: string, body: string): Promise<void> {
    try {
      await this.store.pool.query('select pg_notify($1, $2)', [channel, `${this.nodeId} ${body}`]);
    } catch (error) {
      // The catch-up pass finds events; a chat update is in the transcript the customer's page reloads.
      this.log.warn('could not notify the other nodes', { channel, error: String(error) });
    }
  }

  /** Tells the other nodes that these agents have new events in the log. */
  published(agentIds: readonly string[]): void {
    if (agentIds.length === 0) return;
    let batch: string[] = [];
    let size = 0;
    for (const id of agentIds) {
      if (size + id.length + 1 > MAX_PAYLOAD - 40 && batch.length > 0) {
        void this.#notify('deskbell_events', batch.join(','));
        batch = [];
        size = 0;
      }
      batch.push(id);
      size += id.length + 1;
    }
    if (batch.length > 0) void this.#notify('deskbell_events', batch.join(','));
  }

  /** Tells a customer's event stream on another node; a message too long for a notification goes by reference. */
  chat(conversationId: string, update: ConversationUpdate): void {
    let body = JSON.stringify({ c: conversationId, u: update });
    if (body.length > MAX_PAYLOAD - 40 && update.type === 'message') body = JSON.stringify({ c: conversationId, u: { type: 'message-ref', id: update.message.id } });
    void this.#notify('deskbell_chat', body);
  }

  /** Closes the agent's connections on the other nodes. */
  closeAgent(agentId: string, code: number, reason: string): void {
    void this.#notify('deskbell_agents', JSON.stringify({ a: agentId, code, reason: reason.slice(0, 200) }));
  }

  // -- the dispatcher -------------------------------------------------------------

  /** Whether this node hands out work now. */
  get dispatcher(): boolean {
    return this.#dispatcher;
  }

  /**
   * Becomes the dispatcher if no node is (the lock is free). True when this
   * node is the dispatcher; every node tries once a second (its sweep), so a
   * dispatcher that is gone is replaced within a second of its lock going.
   */
  claimDispatch(): Promise<boolean> {
    if (this.#dispatcher) return Promise.resolve(true);
    this.#claiming ??= this.#claim().finally(() => (this.#claiming = undefined));
    return this.#claiming;
  }

  async #claim(): Promise<boolean> {
    const listener = this.#listener;
    if (this.#stopped || this.#draining || !listener) return false;
    try {
      const { rows } = await listener.query('select pg_try_advisory_lock($1) as locked', [DISPATCH_LOCK]);
      if (!(rows[0] as Row).locked) return false;
      if (this.#listener !== listener || this.#stopped || this.#draining) {
        await listener.query('select pg_advisory_unlock($1)', [DISPATCH_LOCK]).catch(() => {});
        return false;
      }
      this.#dispatcher = true;
      this.log.info('this node is the dispatcher', { node: this.nodeId });
      return true;
    } catch (error) {
      this.log.warn('could not try for the dispatcher lock', { error: String(error) });
      return false;
    }
  }

  /**
   * A node that is not the dispatcher has news for it (a conversation came in,
   * an agent has room again). One notification at a time, and one more after
   * it for whatever came up meanwhile: a burst costs at most one
   * notification per round trip to the database, not one per conversation.
   */
  askDispatch(): void {
    if (this.#asking) {
      this.#askAgain = true;
      return;
    }
    this.#asking = true;
    void this.#notify('deskbell_dispatch', '').finally(() => {
      this.#asking = false;
      if (this.#askAgain) {
        this.#askAgain = false;
        this.askDispatch();
      }
    });
  }

  // -- presence ------------------------------------------------------------------

  /** Presence writes of each agent, one after another: a reconnect's must not be overtaken by the old connection's goodbye. */
  readonly #presenceWrites = new Map<string, Promise<void>>();

  /** The agent is connected here (null: no longer), with its presence. */
  setPresence(agentId: string, presence: Presence | null): Promise<void> {
    const previous = this.#presenceWrites.get(agentId) ?? Promise.resolve();
    const write = previous.catch(() => {}).then(() => this.#writePresence(agentId, presence));
    this.#presenceWrites.set(agentId, write);
    const done = () => {
      if (this.#presenceWrites.get(agentId) === write) this.#presenceWrites.delete(agentId);
    };
    write.then(done, done);
    return write;
  }

  async #writePresence(agentId: string, presence: Presence | null): Promise<void> {
    if (presence === null) {
      // Only this node's row: the agent may already be on another one.
      await this.store.pool.query('update agent_presence set node = null, changed_at = $1 where agent_id = $2 and node = $3', [Date.now(), agentId, this.nodeId]);
      return;
    }
    await this.store.pool.query(
      `insert into agent_presence (agent_id, node, presence, changed_at) values ($1, $2, $3, $4)
       on conflict (agent_id) do update set node = excluded.node, presence = excluded.presence, changed_at = excluded.changed_at`,
      [agentId, this.nodeId, presence, Date.now()],
    );
  }

  /**
   * Agents available for new work: those of other live nodes as the
   * database has them, and this node's own as it knows them now (`here`: its
   * links are ahead of its writes to the database).
   */
  async available(here: ReadonlySet<string>): Promise<Set<string>> {
    const rows = (
      await this.store.pool.query(
        `select p.agent_id from agent_presence p join nodes n on n.id = p.node
         where p.presence = 'available' and p.node <> $2 and n.seen_at > $1 and n.draining = 0`,
        [Date.now() - NODE_DEAD_MS, this.nodeId],
      )
    ).rows as Row[];
    const available = new Set(here);
    for (const r of rows) available.add(r.agent_id as string);
    return available;
  }

  /** Whether the agent is connected to some live node. */
  async isPresent(agentId: string): Promise<boolean> {
    const rows = (
      await this.store.pool.query(`select 1 from agent_presence p join nodes n on n.id = p.node where p.agent_id = $1 and n.seen_at > $2`, [agentId, Date.now() - NODE_DEAD_MS])
    ).rows;
    return rows.length > 0;
  }

  /**
   * Open offers that nobody is left to handle: past their deadline (the
   * node that armed the timer died), or of an agent gone from every live
   * node for longer than the grace.
   */
  async orphanedOffers(graceMs: number): Promise<{ expired: OfferRecord[]; stranded: OfferRecord[] }> {
    const now = Date.now();
    const rows = (
      await this.store.pool.query(
        `select o.*, (o.expires_at <= $1) as expired from offers o
         left join agent_presence p on p.agent_id = o.agent_id
         left join nodes n on n.id = p.node
         where o.state = 'open' and (
           o.expires_at <= $1
           or p.agent_id is null
           or (p.node is null and p.changed_at < $2)
           or (p.node is not null and (n.id is null or n.seen_at < $3) and coalesce(n.seen_at, 0) < $2))`,
        [now, now - graceMs, now - NODE_DEAD_MS],
      )
    ).rows as Row[];
    return { expired: rows.filter((r) => r.expired).map(toOffer), stranded: rows.filter((r) => !r.expired).map(toOffer) };
  }

  /** This node is shutting down: routing elsewhere stops counting its agents as available. */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.store.pool.query('update nodes set draining = 1 where id = $1', [this.nodeId]).catch(() => {});
    // Another node dispatches from now on: it hears so at once rather than at its next sweep.
    if (this.#dispatcher) {
      this.#dispatcher = false;
      await this.#listener?.query('select pg_advisory_unlock($1)', [DISPATCH_LOCK]).catch(() => {});
      await this.#notify('deskbell_dispatch', 'released');
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const wasDispatcher = this.#dispatcher;
    this.#dispatcher = false;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    // Its agents are gone from here; the nodes they move to say where they are.
    await this.store.pool.query('update agent_presence set node = null, changed_at = $1 where node = $2', [Date.now(), this.nodeId]).catch(() => {});
    await this.store.pool.query('delete from nodes where id = $1', [this.nodeId]).catch(() => {});
    await this.#listener?.end().catch(() => {});
    this.#listener = undefined;
    if (wasDispatcher) await this.#notify('deskbell_dispatch', 'released');
  }
}
