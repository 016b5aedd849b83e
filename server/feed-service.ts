/**
 * The feed service, apart from how bytes arrive: it puts the parts together
 * and hands waiting conversations to agents.
 *
 * - conversations.ts: conversations and messages, the customer's side
 * - offers.ts: offering, assigning, timeouts, rejections, reroutes
 * - agent-links.ts: live connections, acknowledgements, grace
 * - routing.ts: who gets a conversation (pure)
 * - event-log.ts: every change in a transaction; events out only once committed
 * - store.ts: all SQL
 */
import {
  type ClientFrame,
  CLOSE,
  type Conversation,
  DEFAULT_ROUTING,
  type Media,
  type Message,
  type RoutingMode,
  type Scenario,
  type ScenarioRouting,
  type ServerEvent,
  welcomeFrame,
} from '../protocol/feed.ts';
import { type AgentLink, AgentLinks } from './agent-links.ts';
import { Deliverer, type DeliveryOptions } from './channels/delivery.ts';
import type { ChannelSender, OutboundChannel } from './channels/outbound.ts';
import { type ConversationUpdate, Conversations, type InboundMessage, type NewConversation } from './conversations.ts';
import type { Cluster } from './cluster.ts';
import type { Metrics } from './metrics.ts';
import { EventLog } from './event-log.ts';
import { type Logger, silentLogger } from './logger.ts';
import { Offers } from './offers.ts';
import { Roster } from './routing.ts';
import { type AgentRecord, type ConversationRecord, publicConversation, type Store } from './store.ts';
import type { Work } from './work.ts';

export type { AgentLink } from './agent-links.ts';

/** An operator's routing configuration: per scenario, any of mode and offer time. */
export type RoutingOverrides = Partial<Record<Scenario, Partial<{ mode: RoutingMode; offerTimeoutSec: number }>>>;

export interface FeedServiceOptions {
  store: Store;
  now?: () => number;
  /** How long an agent has to answer an offer, for scenarios whose routing names no time. */
  offerTimeoutSec?: number;
  /** Per scenario: offered or assigned, and the offer time. */
  routing?: RoutingOverrides;
  /**
   * How long an agent who rejected or let an offer lapse is spared the same
   * conversation, when nobody else can take it.
   */
  reofferCooldownSec?: number;
  /**
   * How long an agent who lost the connection keeps its open offers; after
   * that they go to someone else (reason `rerouted`).
   */
  rerouteGraceSec?: number;
  /**
   * How long a connected agent's client has to acknowledge an offer (it acks
   * what it has handled); an offer it never took in goes to someone else.
   */
  ackTimeoutSec?: number;
  /** Agent replies in SMS and Messenger conversations go out through these; a channel without one fails its replies clearly. */
  senders?: Partial<Record<OutboundChannel, ChannelSender>>;
  /** Retry and in-doubt timing of the outbox (channels/delivery.ts). */
  delivery?: DeliveryOptions;
  logger?: Logger;
  /** This server is one of several on a PostgreSQL store (cluster.ts). */
  cluster?: Cluster;
}

/** On a cluster, how many hand-outs of one dispatch run are in flight at once. */
const DISPATCH_IN_FLIGHT = 8;

/** On a cluster, how often a node looks for offers and conversations nobody is looking after. */
const SWEEP_EVERY_MS = 1000;

/** Acknowledged events are trimmed from the log every so often, for so many agents at a time. */
const TRIM_EVERY_MS = 100;
const TRIM_AGENTS = 50;

export class FeedService {
  readonly store: Store;
  /** The routing in force, per scenario; sent to agents in the welcome. */
  readonly routing: Record<Scenario, ScenarioRouting>;
  readonly reofferCooldownMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #events: EventLog;
  readonly #links: AgentLinks;
  readonly #conversations: Conversations;
  readonly #offers: Offers;
  /** Agent replies on their way to SMS and Messenger customers. */
  readonly delivery: Deliverer;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;
  /** On a cluster: one of several servers on the database. */
  readonly cluster: Cluster | undefined;
  /** Set by the server that serves /metrics. */
  metrics: Metrics | undefined;
  readonly #rerouteGraceMs: number;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;
  #dispatchRunning = false;
  #dispatchAgain = false;
  /** The dispatch run in progress, if any (stop waits for it). */
  #dispatching: Promise<void> = Promise.resolve();

  /**
   * Every agent with its load, as dispatch last left it: valid until a change
   * other than the offers dispatch makes itself (which it counts as it goes).
   * Dispatch runs for every new conversation; reading a thousand agents'
   * loads each time is what limited the server.
   */
  #agents: (AgentRecord & { load: number })[] | undefined;
  /** The available agents with room, as the last dispatch left them, and what they were built from. */
  #candidates: { from: (AgentRecord & { load: number })[]; version: number; roster: Roster<AgentRecord & { load: number }> } | undefined;
  /** Agents' acknowledged seqs not yet trimmed from the log, and the timer that trims them. */
  readonly #trims = new Map<string, number>();
  #trimTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: FeedServiceOptions) {
    this.store = options.store;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger ?? silentLogger;
    const defaultTimeout = options.offerTimeoutSec ?? 30;
    this.routing = Object.fromEntries(
      Object.entries(DEFAULT_ROUTING).map(([scenario, base]) => [scenario, { mode: base.mode, offerTimeoutSec: defaultTimeout, ...options.routing?.[scenario as Scenario] }]),
    ) as Record<Scenario, ScenarioRouting>;
    this.reofferCooldownMs = (options.reofferCooldownSec ?? 30) * 1000;
    this.cluster = options.cluster;
    this.#rerouteGraceMs = (options.rerouteGraceSec ?? 15) * 1000;
    this.#events = new EventLog(
      this.store,
      (agentId, event) => this.#links.send(agentId, event),
      this.#log,
      () => (this.#agents = undefined),
      // Agents connected here have their events already; the others may be on another node.
      this.cluster ? (agentIds) => this.cluster!.published([...agentIds].filter((id) => !this.#links.isConnected(id))) : undefined,
    );
    const work: Work = {
      store: this.store,
      events: this.#events,
      log: this.#log,
      now: this.#now,
      tx: (fn, keepsLoads) => {
        if (!keepsLoads) this.#agents = undefined;
        return this.#events.tx(fn);
      },
      dispatch: () => this.dispatch(),
      counted: (outcome) => this.metrics?.offers.inc({ outcome }),
    };
    this.#links = new AgentLinks(this.#rerouteGraceMs, this.#log, (agentId) =>
      (async () => {
        // On a cluster the agent may have come back on another node meanwhile.
        if (this.cluster && (await this.cluster.isPresent(agentId))) return;
        await this.#offers.rerouteFrom(agentId);
      })().catch((error: unknown) => this.#log.warn('could not reroute the offers of a disconnected agent', { agent: agentId, error: String(error) })),
    );
    this.delivery = new Deliverer(work, options.senders ?? {}, options.delivery);
    this.#conversations = new Conversations(
      work,
      (t, conversationId) => this.#offers.withdrawFor(t, conversationId),
      this.delivery,
      this.cluster ? (conversationId, update) => this.cluster!.chat(conversationId, update) : undefined,
    );
    this.#offers = new Offers(work, this.routing, this.#links, (options.ackTimeoutSec ?? 10) * 1000, (t, id, update) => this.#conversations.tell(t, id, update));
  }

  /** Events that failed the protocol schema at logging time (a bug: each was refused, never sent). */
  get invalidEvents(): number {
    return this.#events.invalidEvents;
  }

  /** Restores offer timers from the store (after a restart), retires removed agents' work, and offers what waits. */
  async start(): Promise<void> {
    await this.cluster?.start({
      events: (agentIds) => {
        for (const id of agentIds) this.#links.get(id)?.pump();
      },
      chat: (conversationId, update) => void this.#conversations.told(conversationId, update),
      closeAgent: (agentId, code, reason) => this.#links.close(agentId, code, reason),
      catchUp: () => void this.#catchUp(),
      dispatch: () => this.dispatch(),
    });
    await this.#offers.retireDisabledAgents();
    await this.#offers.restore();
    this.dispatch();
    this.delivery.start();
    if (this.cluster) this.#sweeper = setInterval(() => void this.#sweep(), SWEEP_EVERY_MS);
  }

  /**
   * What a node of a cluster looks after besides its own timers: offers past
   * their deadline or of agents gone from every node (their node died), and
   * conversations waiting with nobody dispatching them.
   */
  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#stopped || !this.cluster) return;
    this.#sweeping = true;
    try {
      const { expired, stranded } = await this.cluster.orphanedOffers(this.#rerouteGraceMs);
      for (const offer of expired) await this.#offers.expire(offer.id);
      for (const agentId of new Set(stranded.map((o) => o.agentId))) await this.#offers.rerouteFrom(agentId);
      // The dispatcher may be gone: the first node to take its lock dispatches.
      if (await this.cluster.claimDispatch()) this.dispatch();
      // Replies another node queued (and may not live to send) are due here too.
      this.delivery.kick();
    } catch (error) {
      this.#log.warn('sweep failed', { error: String(error) });
    } finally {
      this.#sweeping = false;
    }
  }

  /** Each agent connected here, with the last seq the log has for it. */
  async #logHeads(): Promise<{ link: AgentLink; last: number }[]> {
    const links = [...this.#links.all()];
    if (links.length === 0) return [];
    const last = await this.store.lastSeqs(links.map((l) => l.agentId));
    return links.map((link) => ({ link, last: last.get(link.agentId) ?? 0 }));
  }

  /** Sends each connected agent what the log has beyond what this node sent it (a notification may have been lost). */
  async #catchUp(): Promise<void> {
    try {
      for (const { link, last } of await this.#logHeads()) if (last > link.sentSeq) link.pump();
    } catch (error) {
      this.#log.warn('catch-up failed', { error: String(error) });
    }
  }

  /** Stops timers and waits a little for replies in flight to a provider (any left are in doubt at the next start). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    await this.delivery.stop();
    await this.#trimSome(Infinity).catch(() => {});
    await this.#dispatching;
    await this.#events.committed().catch(() => {});
    this.#offers.stop();
    clearTimeout(this.#retry);
    this.#links.clear();
    await this.cluster?.stop();
  }

  /** Resolves when everything written so far is committed; rejects if that commit failed. */
  committed(): Promise<void> {
    return this.#events.committed();
  }

  // -- agent connections ------------------------------------------------------

  /**
   * Attaches a connection after a valid hello. Returns the welcome and the
   * events to send right after it, in order; nothing is sent to the link
   * before the caller has sent those.
   */
  async attach(agent: AgentRecord, link: AgentLink, resumeFrom: number, heartbeatSec: number) {
    this.#agents = undefined;
    const { store } = this;
    const lastSeq = await store.lastSeq(agent.id);
    const resumable = resumeFrom <= lastSeq && (resumeFrom > 0 || lastSeq === 0) && resumeFrom >= (await store.firstRetainedSeq(agent.id)) - 1;
    // A client we cannot resume gets what is live now, as new events.
    const replay: ServerEvent[] = resumable
      ? await store.eventsAfter(agent.id, resumeFrom)
      : await this.#events.tx(async (t) => {
          const events: ServerEvent[] = [];
          for (const o of await t.q.openOffersFor(agent.id)) {
            const conversation = await t.q.conversation(o.conversationId);
            if (conversation) events.push(await t.append(agent.id, this.#offers.body(conversation, o)));
          }
          for (const c of await t.q.activeConversations(agent.id)) {
            events.push(
              await t.append(agent.id, {
                type: 'accepted',
                offerId: (await t.q.acceptedOfferId(c.id, agent.id)) ?? c.id,
                conversation: publicConversation(c),
                transcript: await t.q.transcript(c.id),
              }),
            );
          }
          return events;
        });
    const welcome = welcomeFrame({
      agentId: agent.id,
      agentName: agent.name,
      serverTime: this.#now(),
      heartbeatSec,
      resumed: resumable,
      lastSeq: resumable ? resumeFrom : lastSeq,
      routing: this.routing,
      capacity: agent.capacity,
    });
    const previous = this.#links.attach(link, resumable ? resumeFrom : 0);
    if (this.cluster) {
      // The agent is here now: a connection it left on another node closes, and routing anywhere sees it.
      this.cluster.closeAgent(agent.id, CLOSE.replaced, 'replaced by a newer connection');
      await this.cluster.setPresence(agent.id, link.presence);
    }
    this.#log.info('agent attached', { agent: agent.id, resumeFrom, resumed: resumable, replay: replay.length });
    return { welcome, replay, previous };
  }

  /** An event another node wrote went out to an agent connected here: an offer in it must be acknowledged in time. */
  sentFromLog(agentId: string, event: ServerEvent): void {
    if (event.type === 'offer') this.#offers.expectAck({ id: event.offerId, agentId }, event.seq);
  }

  /** Called once the welcome and replay are on the wire. */
  ready(): void {
    this.dispatch();
  }

  /** The connection closed: its offers wait a little for it to come back, then go to someone else. */
  detach(link: AgentLink): void {
    const current = this.#links.get(link.agentId) === link;
    this.#links.detach(link);
    if (current && this.cluster) {
      this.cluster.setPresence(link.agentId, null).catch((error: unknown) => this.#log.warn('could not record that an agent left', { agent: link.agentId, error: String(error) }));
    }
  }

  /** Agents were added or their queues changed (sign-in): routing reads them again. */
  agentsChanged(): void {
    this.#agents = undefined;
  }

  /**
   * Signs an agent out everywhere (an admin's call): sign-in tokens issued
   * until now open nothing, and the agent's connection is closed. Their
   * offers go to others after the usual grace. False for an unknown agent.
   */
  async signOut(agentId: string): Promise<boolean> {
    if (!(await this.store.revokeAgentTokens(agentId, this.#now()))) return false;
    this.#links.close(agentId, CLOSE.unauthorized, 'signed out by an admin: sign in again');
    this.cluster?.closeAgent(agentId, CLOSE.unauthorized, 'signed out by an admin: sign in again');
    this.#log.info('agent signed out by an admin', { agent: agentId });
    return true;
  }

  isConnected(agentId: string): boolean {
    return this.#links.isConnected(agentId);
  }

  /** Agents connected to this server. */
  connectedCount(): number {
    return this.#links.size;
  }

  /** Events in the log not yet sent to this server's connected agents. */
  async eventLag(): Promise<number> {
    return (await this.#logHeads()).reduce((sum, { link, last }) => sum + Math.max(0, last - link.sentSeq), 0);
  }

  /** Applies one validated command from an attached agent. Throws FeedError. */
  async handle(link: AgentLink, frame: Exclude<ClientFrame, { type: 'hello' | 'ping' | 'auth' }>): Promise<void> {
    switch (frame.type) {
      case 'accept':
        return this.#offers.accept(link.agentId, frame.offerId);
      case 'reject':
        return this.#offers.reject(link.agentId, frame.offerId, frame.reason);
      case 'timeout':
        return this.#offers.browserTimeout(link.agentId, frame.offerId);
      case 'send':
        return this.#conversations.agentMessage(link.agentId, frame.conversationId, frame.clientMsgId, frame.text);
      case 'end':
        return this.#conversations.agentEnd(link.agentId, frame.conversationId);
      case 'retry-delivery':
        return this.delivery.retry(link.agentId, frame.conversationId, frame.messageId);
      case 'presence':
        this.#links.setPresence(link, frame.presence);
        if (this.cluster && this.#links.get(link.agentId) === link) await this.cluster.setPresence(link.agentId, frame.presence);
        if (frame.presence === 'available') this.dispatch();
        return;
      case 'ack': {
        const seq = Math.min(frame.seq, await this.store.lastSeq(link.agentId));
        this.#links.ack(link.agentId, seq);
        return this.#trimLater(link.agentId, seq);
      }
    }
  }

  /**
   * Acknowledged events are forgotten a few agents at a time, in the turn's
   * batch: a delete per ack would be a commit, and an fsync, per event, and
   * all agents at once would stall the server. A trim lost in a crash costs
   * nothing but events the client drops as seen.
   */
  #trimLater(agentId: string, seq: number): void {
    this.#trims.set(agentId, Math.max(this.#trims.get(agentId) ?? 0, seq));
    this.#trimTimer ??= setTimeout(() => void this.#trimSome(TRIM_AGENTS).catch((error: unknown) => this.#log.warn('could not trim the event log', { error: String(error) })), TRIM_EVERY_MS);
  }

  async #trimSome(agents: number): Promise<void> {
    clearTimeout(this.#trimTimer);
    this.#trimTimer = undefined;
    if (this.#trims.size === 0) return;
    // The oldest first: a Map keeps insertion order, and a trimmed agent's next ack goes to the end.
    const trims = [...this.#trims].slice(0, agents);
    for (const [agentId] of trims) this.#trims.delete(agentId);
    if (this.#trims.size > 0) this.#trimTimer = setTimeout(() => void this.#trimSome(TRIM_AGENTS).catch(() => {}), TRIM_EVERY_MS);
    await this.#events.tx(async (t) => {
      for (const [agentId, seq] of trims) await t.q.trimEvents(agentId, seq);
    });
  }

  // -- conversations from channels and the HTTP API ------------------------------

  createConversation(input: NewConversation): Promise<ConversationRecord> {
    return this.#conversations.create(input);
  }

  receiveInbound(inbound: InboundMessage): Promise<{ conversationId: string; duplicate: boolean }> {
    return this.#conversations.receiveInbound(inbound);
  }

  /** A message from the customer (or the bot) side of a conversation. */
  postMessage(conversationId: string, text: string, from: 'customer' | 'bot' | 'system' = 'customer', media?: Media[]): Promise<Message> {
    return this.#conversations.post(conversationId, text, from, media);
  }

  /** The customer left, or a channel closed the conversation. */
  endByCustomer(conversationId: string): Promise<void> {
    return this.#conversations.endByCustomer(conversationId);
  }

  /** Listens to what happens in one conversation (the customer's side: web chat). */
  watch(conversationId: string, listener: (update: ConversationUpdate) => void): () => void {
    return this.#conversations.watch(conversationId, listener);
  }

  /** Conversations waiting for an agent, longest waiting first, with how long. */
  async queue(): Promise<{ conversationId: string; scenario: Conversation['scenario']; customerName: string; waitingSec: number; position: number }[]> {
    const now = this.#now();
    return (await this.store.waitingConversations()).map((c, i) => ({
      conversationId: c.id,
      scenario: c.scenario,
      customerName: c.customer.name,
      waitingSec: Math.round((now - c.waitingSince) / 1000),
      position: i + 1,
    }));
  }

  // -- routing --------------------------------------------------------------------

  /**
   * Hands each waiting conversation, longest waiting first, to an available
   * agent with room, as routing.ts chooses: assigned outright or offered.
   * When nobody may have an offer yet (cool-down), it tries again then.
   * Runs soon, one run at a time; a call during a run runs it again after.
   * On a cluster only the dispatcher runs it; another node tells it.
   */
  dispatch(): void {
    if (this.#stopped) return;
    if (this.cluster && !this.cluster.dispatcher) return this.cluster.askDispatch();
    if (this.#dispatchRunning) {
      this.#dispatchAgain = true;
      return;
    }
    this.#dispatchRunning = true;
    this.#dispatching = (async () => {
      try {
        do {
          this.#dispatchAgain = false;
          await this.#dispatchOnce();
        } while (this.#dispatchAgain && !this.#stopped);
      } catch (error) {
        // The store failed (a database that went away): try again in a while rather than leave conversations waiting.
        this.#agents = undefined;
        this.#log.warn('dispatch failed; trying again shortly', { error: String(error) });
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => this.dispatch(), 1000);
      } finally {
        this.#dispatchRunning = false;
      }
    })();
  }

  async #dispatchOnce(): Promise<void> {
    // On a cluster, who is available and their loads are read afresh: other nodes change them too.
    const available = this.cluster ? await this.cluster.available(this.#links.available()) : this.#links.available();
    if (available.size === 0) return;
    const waiting = await this.store.waitingConversations();
    if (waiting.length === 0) return;
    const now = this.#now();
    let retryAt = Infinity;
    // Loads are read once and kept up to date here as work goes out; the agents with room are
    // kept between runs until loads are read again or who is available changes.
    if (this.cluster) this.#agents = undefined;
    const all = (this.#agents ??= await this.store.agentsWithLoad());
    const kept = this.cluster ? undefined : this.#candidates;
    const roster = kept && kept.from === all && kept.version === this.#links.version ? kept.roster : new Roster(all.filter((a) => available.has(a.id)));
    // On a cluster each hand-out is several round trips to the database: they run a few at a time,
    // counted in the loads at once and set right when one was taken first or the agent was full.
    const offered = this.cluster ? await this.store.offeredAgentsOf(waiting.filter((c) => this.routing[c.scenario].mode === 'offer').map((c) => c.id)) : undefined;
    const inFlight: Promise<void>[] = [];
    const settle = async () => void (await Promise.all(inFlight.splice(0)));
    for (const conversation of waiting) {
      if (roster.size === 0) break;
      const mode = this.routing[conversation.scenario].mode;
      const tried = mode === 'offer' ? (offered?.get(conversation.id) ?? (await this.store.offeredAgents(conversation.id))) : new Map<string, number>();
      const pick = roster.pick(mode, conversation.queue, tried, now, this.reofferCooldownMs);
      if ('retryAt' in pick) {
        retryAt = Math.min(retryAt, pick.retryAt);
        continue;
      }
      const agent = pick.agent;
      const handing = mode === 'assign' ? this.#offers.assign(conversation, agent) : this.#offers.offer(conversation, agent);
      roster.gave(agent, now);
      const counted = handing.then((given) => {
        if (given === 'given') return;
        roster.undo(agent);
        // Full: another node gave the agent work; it has no room in this run.
        if (given === 'full') roster.full(agent);
      });
      inFlight.push(counted);
      if (!this.cluster || inFlight.length >= DISPATCH_IN_FLIGHT) await settle();
      // Loads were read again meanwhile (another change): this run's list is stale, the next run reads it.
      if (this.#agents !== all) {
        this.#dispatchAgain = true;
        break;
      }
    }
    await settle();
    this.#candidates = { from: all, version: this.#links.version, roster };
    if (retryAt < Infinity) {
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.dispatch(), Math.max(0, retryAt - now));
    }
  }
}
