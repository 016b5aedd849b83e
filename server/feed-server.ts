/**
 * The reference feed server: one HTTP server carrying the JSON API under
 * /api/ and the agents' WebSocket at /feed.
 *
 * Socket lifecycle on the server:
 *
 *   open ──hello ok──► attached ──close / heartbeat missed / sign-in ended──► gone
 *     │  (10 s, bad hello, bad token)
 *     └──────────────► closed with an error frame and a 44xx code
 *
 * An agent signs in with a static token from the agents file, or with an
 * ID token from the organisation's identity provider (sign-in.ts). A
 * signed-in connection ends when its token does, unless the client sends a
 * renewed one (`auth` frame) first.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type ClientFrame,
  CLOSE,
  type ErrorCode,
  MAX_CLIENT_FRAME_CHARS,
  normalizeName,
  parseClientFrame,
  PROTOCOL_VERSION,
  serializeServerFrame,
  type ServerEvent,
  type ServerFrame,
} from '../protocol/feed.ts';
import { FeedError } from './errors.ts';
import { type AgentLink, FeedService, type RoutingOverrides } from './feed-service.ts';
import { type Logger, silentLogger } from './logger.ts';
import { checkBearer, handleApi, HttpError, sendError, sendJson } from './http-api.ts';
import { type ChannelOptions, channelRoutes } from './channels/webhooks.ts';
import type { DeliveryOptions } from './channels/delivery.ts';
import type { ChannelSender, OutboundChannel } from './channels/outbound.ts';
import { clientAddress, Edge, type EdgeLimits } from './rate-limit.ts';
import { keptSecret, MIN_SECRET_CHARS } from './secrets.ts';
import type { AgentRecord, AgentSeed, Store } from './store.ts';
import { PostgresStore } from './store-postgres.ts';
import { Cluster } from './cluster.ts';
import { Metrics } from './metrics.ts';
import { SqliteStore } from './store-sqlite.ts';
import { looksLikeJwt, ProviderUnavailable, provisionedAgentId, type SignInOptions, TokenRefused, TokenVerifier } from './sign-in.ts';

export { CLOSE };

/** The `v` of a hello that names another protocol version, if that is what the frame is. */
function helloVersion(data: unknown): unknown {
  try {
    const json = JSON.parse(String(data)) as { type?: unknown; v?: unknown };
    return json.type === 'hello' && json.v !== PROTOCOL_VERSION ? json.v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The request target as a URL, or a 400. Origin-form targets (`/path`) are
 * read against a fixed base, so `//host` cannot move the host; absolute-form
 * targets must parse as URLs.
 */
export function requestUrl(target: string | undefined): URL {
  const raw = target ?? '/';
  try {
    return raw.startsWith('/') ? new URL(`http://localhost${raw}`) : new URL(raw);
  } catch {
    throw new HttpError(400, 'bad-request', 'the request target is not a valid URL');
  }
}

/**
 * Agents as they may be stored: ids and tokens unique, tokens of at least 128
 * bits, names normalised and at most 200 characters. Throws an Error naming
 * every problem, for the operator.
 */
export function checkAgents(agents: readonly AgentSeed[]): AgentSeed[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const tokens = new Set<string>();
  const logins = new Set<string>();
  const checked = agents.map((a, i) => {
    const who = a.id ? `agent ${JSON.stringify(a.id)}` : `agent #${i + 1}`;
    const name = normalizeName(a.name ?? '');
    if (!a.id || a.id.length > 128) problems.push(`${who}: id must be 1 to 128 characters`);
    if (ids.has(a.id)) problems.push(`${who}: id used twice`);
    ids.add(a.id);
    if (!name) problems.push(`${who}: name is empty`);
    if (name.length > 200) problems.push(`${who}: name is longer than 200 characters`);
    if (a.token === undefined) {
      if (!a.login) problems.push(`${who}: has neither a token nor a sign-in login`);
    } else if (typeof a.token !== 'string' || a.token.length < MIN_SECRET_CHARS) {
      problems.push(`${who}: token is shorter than ${MIN_SECRET_CHARS} characters (128 bits); make one with: openssl rand -base64 24`);
    } else if (a.token.length > 512) {
      problems.push(`${who}: token is longer than 512 characters`);
    } else if (looksLikeJwt(a.token)) {
      problems.push(`${who}: token looks like a JWT (three dot-separated parts); make one with: openssl rand -base64 24`);
    }
    if (a.token !== undefined) {
      if (tokens.has(a.token)) problems.push(`${who}: token used by another agent`);
      tokens.add(a.token);
    }
    if (a.login !== undefined) {
      const login = a.login.trim().toLowerCase();
      if (!login || login.length > 320) problems.push(`${who}: login must be 1 to 320 characters`);
      if (logins.has(login)) problems.push(`${who}: login used by another agent`);
      logins.add(login);
    }
    if (a.queues !== undefined && (a.queues.length > 100 || a.queues.some((q) => typeof q !== 'string' || !q || q.length > 200))) {
      problems.push(`${who}: queues must be up to 100 names of 1 to 200 characters`);
    }
    if (a.capacity !== undefined && !(Number.isInteger(a.capacity) && a.capacity >= 1 && a.capacity <= 1_000_000)) problems.push(`${who}: capacity must be a whole number from 1`);
    return { ...a, name, ...(a.login !== undefined ? { login: a.login.trim().toLowerCase() } : {}) };
  });
  if (problems.length > 0) throw new Error(`agents refused:\n  ${problems.join('\n  ')}`);
  return checked;
}

export interface FeedServerOptions {
  host?: string;
  port?: number;
  /** Directory of the SQLite file and the server's secrets; `:memory:` keeps nothing across restarts. */
  dataDir?: string;
  /**
   * A PostgreSQL URL (postgres://…): the feed's state lives there instead of
   * the data directory, and several servers may share it. The API key and
   * the token-hash key are then kept in the database too.
   */
  store?: string;
  /** This server's name among several on one PostgreSQL store (default: a random one each start). */
  nodeId?: string;
  /** Every agent who may sign in: agents stored by an earlier start and not named here are disabled. */
  agents: AgentSeed[];
  /** The key of the HTTP API; without it, one is made on first start and kept in the data directory. */
  apiKey?: string;
  /** Default time to answer an offer, for scenarios whose routing names none. */
  offerTimeoutSec?: number;
  /** Per scenario: offered (alert) or assigned (toast), and the offer's time (defaults: DEFAULT_ROUTING). */
  routing?: RoutingOverrides;
  reofferCooldownSec?: number;
  heartbeatSec?: number;
  /** Frames per second one connection may send before it is told to slow down. */
  rateLimit?: number;
  /** Per-address and per-connection bounds (defaults in `DEFAULT_LIMITS`). */
  limits?: Partial<EdgeLimits>;
  logger?: Logger;
  /** SMS and Messenger webhooks, web chat. */
  channels?: ChannelOptions;
  /** Where agent replies on SMS and Messenger go (channels/outbound.ts); a channel without a sender fails its replies, saying so. */
  senders?: Partial<Record<OutboundChannel, ChannelSender>>;
  /** Retry and in-doubt timing of the outbox. */
  delivery?: DeliveryOptions;
  /** The service's clock (tests move it). */
  now?: () => number;
  /** Seconds a disconnected agent keeps its open offers. */
  rerouteGraceSec?: number;
  /** Seconds a connected agent's client has to acknowledge an offer. */
  ackTimeoutSec?: number;
  /** Agents sign in with the organisation's identity provider (OpenID Connect ID tokens); static tokens still work. */
  signIn?: SignInOptions;
  /** Extra HTTP routes (demo pages); return true when handled. */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL, service: FeedService) => Promise<boolean> | boolean;
}

export interface FeedServer {
  readonly port: number;
  readonly httpUrl: string;
  readonly feedUrl: string;
  readonly service: FeedService;
  /** The HTTP API key in force, and whether this start made it (print it once). */
  readonly apiKey: { value: string; created: boolean; file?: string };
  /** Counts of what the server refused, for diagnostics and tests. */
  readonly stats: {
    badFrames: number;
    rateLimited: number;
    connections: number;
    resumes: number;
    failedLogins: number;
    /** Sign-in tokens refused, by the check they failed. */
    signInRefusals: Record<string, number>;
    /** Signed-in connections ended because their token ran out without a renewed one. */
    signInsEnded: number;
    /** Connections closed because the client read too slowly. */
    tooSlow: number;
    /** Unexpected exceptions: each closed only its own connection or request. */
    internalErrors: number;
  };
  /**
   * Before a planned stop: /readyz answers 503, routing on other nodes stops
   * counting this node's agents, and each agent is asked to move (close
   * 1012); resolves once they have gone, or after `waitMs`.
   */
  drain(waitMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFeedServer(options: FeedServerOptions): Promise<FeedServer> {
  const logger = options.logger ?? silentLogger;
  const heartbeatSec = options.heartbeatSec ?? 20;
  const rateLimit = options.rateLimit ?? 50;
  const dataDir = options.dataDir ?? '.data';
  const agents = checkAgents(options.agents);
  if (options.apiKey !== undefined && options.apiKey.length < MIN_SECRET_CHARS) {
    throw new Error(`the API key is shorter than ${MIN_SECRET_CHARS} characters (128 bits); make one with: openssl rand -base64 24`);
  }
  const store: Store = options.store
    ? await PostgresStore.open(options.store, { logger })
    : new SqliteStore(dataDir === ':memory:' ? ':memory:' : path.join(dataDir, 'deskbell-feed.sqlite'), Buffer.from(keptSecret(dataDir, 'token-key').value, 'base64url'));
  const apiKey =
    options.apiKey !== undefined
      ? { value: options.apiKey, created: false }
      : store instanceof PostgresStore
        ? await store.sharedSecret('api-key', () => randomBytes(24).toString('base64url'))
        : keptSecret(dataDir, 'api-key');
  const { value: removed } = await store.transaction((q) => q.replaceAgents(agents));
  if (removed.length > 0) logger.warn('agents not in the agents file are disabled', { agents: removed });
  const cluster = store instanceof PostgresStore ? new Cluster(store, options.store!, logger, options.nodeId) : undefined;
  const service = new FeedService({
    store,
    logger,
    ...(cluster ? { cluster } : {}),
    ...(options.offerTimeoutSec ? { offerTimeoutSec: options.offerTimeoutSec } : {}),
    ...(options.routing ? { routing: options.routing } : {}),
    ...(options.reofferCooldownSec !== undefined ? { reofferCooldownSec: options.reofferCooldownSec } : {}),
    ...(options.rerouteGraceSec !== undefined ? { rerouteGraceSec: options.rerouteGraceSec } : {}),
    ...(options.ackTimeoutSec !== undefined ? { ackTimeoutSec: options.ackTimeoutSec } : {}),
    ...(options.senders ? { senders: options.senders } : {}),
    ...(options.delivery ? { delivery: options.delivery } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  let draining = false;
  const metrics = new Metrics(cluster?.nodeId ?? 'single', {
    connectedAgents: () => service.connectedCount(),
    queueLength: () => store.waitingCount(),
    eventLag: () => service.eventLag(),
    dispatcher: () => !cluster || cluster.dispatcher,
  });
  service.metrics = metrics;
  const stats = { badFrames: 0, rateLimited: 0, connections: 0, resumes: 0, failedLogins: 0, signInRefusals: {} as Record<string, number>, signInsEnded: 0, tooSlow: 0, internalErrors: 0 };
  const verifier = options.signIn ? new TokenVerifier(options.signIn) : undefined;
  verifier?.discover().then(
    () => logger.info('sign-in: the identity provider answers', { issuer: options.signIn!.issuer }),
    (error: unknown) => logger.warn('sign-in: the identity provider does not answer yet; sign-ins wait for it', { issuer: options.signIn!.issuer, error: String((error as Error).message) }),
  );

  type Identity = { agent: AgentRecord; expiresAt?: number } | { refused: string } | { unavailable: string };
  /** Who a token is: an agent (with when a sign-in token ends), a refusal to tell the client, or a provider that cannot be asked. */
  const identify = async (token: string): Promise<Identity> => {
    if (!looksLikeJwt(token)) {
      const agent = await store.agentByToken(token);
      return agent ? { agent } : { refused: 'unknown agent token' };
    }
    if (!verifier) return { refused: 'this feed does not accept sign-in tokens: ask your admin for an agent token' };
    let signedIn;
    try {
      signedIn = await verifier.verify(token);
    } catch (error) {
      if (error instanceof TokenRefused) {
        stats.signInRefusals[error.reason] = (stats.signInRefusals[error.reason] ?? 0) + 1;
        return { refused: error.message };
      }
      if (error instanceof ProviderUnavailable) return { unavailable: error.message };
      throw error;
    }
    let agent = await store.agentByLogin(signedIn.login);
    if (!agent && verifier.options.provision) {
      await store.provisionAgent({ id: provisionedAgentId(signedIn), name: normalizeName(signedIn.name ?? signedIn.login).slice(0, 200) || signedIn.login, login: signedIn.login }, 10);
      logger.info('sign-in: agent provisioned', { login: signedIn.login });
      agent = await store.agentByLogin(signedIn.login);
      service.agentsChanged();
    }
    if (!agent) return { refused: `${signedIn.login} signed in, but is not a Deskbell agent: ask your admin to add them` };
    if (signedIn.issuedAt < agent.tokensAfter) {
      stats.signInRefusals.revoked = (stats.signInRefusals.revoked ?? 0) + 1;
      return { refused: 'signed out by an admin: sign in again' };
    }
    const queues = verifier.queuesOf(signedIn);
    if (queues && !agent.fileQueues && JSON.stringify(queues) !== JSON.stringify(agent.queues)) {
      await store.setAgentQueues(agent.id, queues);
      agent = { ...agent, queues };
      service.agentsChanged();
    }
    return { agent, expiresAt: signedIn.expiresAt + verifier.toleranceMs };
  };
  const edge = new Edge(options.limits);
  const channels = channelRoutes(options.channels ?? {}, edge);
  const unexpected = (where: string, error: unknown, data: Record<string, unknown> = {}) => {
    stats.internalErrors++;
    logger.warn(`${where} failed unexpectedly`, { ...data, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  };

  const handleHttp = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = requestUrl(req.url);
      if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
      if (url.pathname === '/metrics') {
        // Prometheus with the API key (authorization.credentials_file in its scrape config).
        checkBearer(req, apiKey.value, edge);
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        return void res.end(await metrics.text());
      }
      // For a load balancer: send traffic here only while the store answers and the node is not draining.
      if (url.pathname === '/readyz') {
        if (draining) return sendJson(res, 503, { ready: false, why: 'draining' });
        const ok = await store.waitingCount().then(
          () => true,
          () => false,
        );
        return sendJson(res, ok ? 200 : 503, ok ? { ready: true, node: cluster?.nodeId ?? null } : { ready: false, why: 'the store does not answer' });
      }
      const handled =
        (await handleApi(req, res, url, {
          service,
          apiKey: apiKey.value,
          edge,
          isConnected: (id) => service.isConnected(id),
        })) ||
        (await channels(req, res, url, service)) ||
        (await options.routes?.(req, res, url, service));
      if (!handled) throw new HttpError(404, 'not-found', `no route ${req.method} ${url.pathname}`);
    } catch (error) {
      const expected = error instanceof HttpError || error instanceof FeedError;
      if (!expected) {
        unexpected('HTTP request', error, { method: req.method, path: req.url?.slice(0, 200) });
        res.shouldKeepAlive = false;
      }
      if (!res.headersSent) sendError(res, error);
      else res.destroy();
    }
  };
  const http = createServer((req, res) => void handleHttp(req, res));
  // A client that trickles its headers or body holds a socket, not the server.
  http.headersTimeout = 15_000;
  http.requestTimeout = 30_000;

  const wss = new WebSocketServer({ server: http, path: '/feed', maxPayload: MAX_CLIENT_FRAME_CHARS * 4 });
  const sockets = new Set<WebSocket>();
  wss.on('error', (error) => unexpected('WebSocket server', error));

  wss.on('connection', (socket, req) => {
    stats.connections++;
    sockets.add(socket);
    const address = clientAddress(req);
    let link: AgentLink | undefined;
    /** Set once a hello is refused or the socket is being closed: nothing more it sends is handled. */
    let done = false;
    /** Events the service sends before this connection's welcome and replay are on the wire. */
    let early: ServerEvent[] | undefined = [];
    /** The last seq sent to this agent, and the read of the log in progress, if any. */
    let sentSeq = 0;
    let pumping: Promise<void> | undefined;
    let pumpAgain = false;
    let lastSeen = Date.now();
    let tokens = rateLimit * 2;
    let lastRefill = Date.now();
    let dropped = 0;
    /** Frames that came while the hello was being checked, handled once the agent is attached (or dropped if refused). */
    let afterHello: (() => void)[] | undefined;
    /** The agent's commands, applied one after another. */
    let commands: Promise<void> = Promise.resolve();
    const releaseAfterHello = () => {
      const queued = afterHello ?? [];
      afterHello = undefined;
      for (const handle of queued) handle();
    };

    const end = (code: number, reason: string) => {
      done = true;
      socket.close(code, reason.slice(0, 120));
      // A client that does not read will not read the close frame either.
      setTimeout(() => socket.terminate(), 2000).unref();
    };
    const send = (frame: ServerFrame) => {
      if (socket.readyState !== socket.OPEN || done) return;
      if (socket.bufferedAmount > edge.limits.maxSocketBacklogBytes) return tooSlow();
      if (frame.type === 'offer') metrics.delivery.observe(Math.max(0, Date.now() - frame.offeredAt) / 1000);
      const { text, trimmed } = serializeServerFrame(frame);
      if (trimmed) logger.warn('transcript too long for one frame: sent the newest messages', { agent: link?.agentId, trimmed });
      socket.send(text);
    };
    const tooSlow = () => {
      stats.tooSlow++;
      logger.warn('agent connection closed: the client read too slowly', { agent: link?.agentId, backlog: socket.bufferedAmount });
      end(CLOSE.tooSlow, 'too far behind: resume from your cursor');
    };
    /** Waits until the unsent backlog is below half the limit; false (and the socket closed) if it does not get there in 30 s. */
    const drained = async (): Promise<boolean> => {
      const deadline = Date.now() + 30_000;
      while (socket.bufferedAmount > edge.limits.maxSocketBacklogBytes / 2) {
        if (done || socket.readyState !== socket.OPEN) return false;
        if (Date.now() > deadline) {
          tooSlow();
          return false;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return !done;
    };
    const fail = (code: ErrorCode, message: string, ref?: string) =>
      send({ type: 'error', code, message, ...(ref ? { ref } : {}) });
    const refuse = (close: number, code: ErrorCode, message: string) => {
      fail(code, message);
      end(close, message);
    };

    const helloTimer = setTimeout(() => refuse(CLOSE.badHello, 'not-ready', 'no hello within 10 s'), 10_000);
    const heartbeat = setInterval(() => {
      if (Date.now() - lastSeen > heartbeatSec * 2000) {
        logger.warn('heartbeat missed', { agent: link?.agentId });
        end(CLOSE.heartbeat, 'heartbeat missed');
      }
    }, heartbeatSec * 1000);

    /** A signed-in connection ends when its token does; a renewed token moves that. */
    let signInEnds: ReturnType<typeof setTimeout> | undefined;
    const endSignInAt = (at: number | undefined) => {
      clearTimeout(signInEnds);
      if (at === undefined) return;
      // Timers hold at most 24.8 days; a longer token is looked at again then.
      signInEnds = setTimeout(() => {
        if (Date.now() < at) return endSignInAt(at);
        stats.signInsEnded++;
        logger.info('agent connection closed: the sign-in ended without a renewed token', { agent: link?.agentId });
        refuse(CLOSE.unauthorized, 'unauthorized', 'the sign-in has expired: sign in again');
      }, Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1));
    };

    const hello = async (frame: Extract<ClientFrame, { type: 'hello' }>) => {
      clearTimeout(helloTimer);
      // An address out of failed sign-ins is refused before its token is looked at, right or wrong.
      if (!edge.failedAuth.allows(address)) {
        stats.failedLogins++;
        logger.warn('agent sign-in refused: too many failed sign-ins from this address', { address });
        return refuse(CLOSE.flood, 'rate-limited', `too many failed sign-ins from this address; try again in ${edge.failedAuth.retryAfterSec(address)} s`);
      }
      const who = await identify(frame.token);
      if (done) return;
      if ('unavailable' in who) {
        // Not the agent's fault, so not a failed sign-in: the client tries again after its backoff.
        logger.warn('agent sign-in waits: the identity provider cannot be asked', { address, error: who.unavailable });
        return refuse(CLOSE.tryAgain, 'unavailable', 'the feed cannot check sign-ins right now; trying again shortly');
      }
      if ('refused' in who) {
        stats.failedLogins++;
        edge.failedAuth.take(address);
        // Never the token: a mistyped one is one character from the real one.
        logger.warn('agent sign-in refused', { address, client: frame.client.name, why: who.refused });
        return refuse(CLOSE.unauthorized, 'unauthorized', who.refused);
      }
      const { agent, expiresAt } = who;
      endSignInAt(expiresAt);
      /**
       * Events go out in seq order, each once: one already sent is dropped, and one
       * that skips ahead (another node wrote what comes between) waits for the log
       * to be read from the last one sent.
       */
      const deliver = (event: ServerEvent) => {
        if (early) return void early.push(event);
        if (event.seq <= sentSeq) return;
        if (event.seq > sentSeq + 1) return pump();
        send(event);
        sentSeq = event.seq;
      };
      const pump = () => {
        if (early || done) return;
        if (pumping) return void (pumpAgain = true);
        pumping = (async () => {
          do {
            pumpAgain = false;
            for (const event of await service.store.eventsAfter(agent.id, sentSeq)) {
              if (event.seq !== sentSeq + 1) break;
              if (!(await drained())) return;
              send(event);
              sentSeq = event.seq;
              service.sentFromLog(agent.id, event);
            }
          } while (pumpAgain && !done);
        })()
          .catch((error: unknown) => unexpected('reading the event log', error, { agent: agent.id }))
          .finally(() => (pumping = undefined));
      };
      const current: AgentLink = {
        agentId: agent.id,
        presence: frame.presence,
        send: deliver,
        close: (code, reason) => end(code, reason),
        get sentSeq() {
          return sentSeq;
        },
        pump,
      };
      link = current;
      const { welcome, replay, previous } = await service.attach(agent, current, frame.resumeFrom, heartbeatSec);
      if (done) return service.detach(current);
      previous?.close(CLOSE.replaced, 'replaced by a newer connection');
      releaseAfterHello();
      if (welcome.resumed && frame.resumeFrom > 0) stats.resumes++;
      // The replay may hold events of this turn: they go out once they are on disk.
      await service.committed();
      send(welcome);
      // Replay, then what happened meanwhile, paced by what the client reads: a long
      // replay is not a slow client, one that stops reading is.
      const pending = [...replay];
      sentSeq = welcome.lastSeq;
      let gap = false;
      for (;;) {
        const event = pending.shift() ?? early?.shift();
        if (!event) break;
        if (event.seq <= sentSeq) continue;
        // Written on another node, not yet told here: the log has it, read below.
        if (event.seq > sentSeq + 1) {
          gap = true;
          continue;
        }
        if (!(await drained())) return;
        send(event);
        sentSeq = event.seq;
      }
      early = undefined;
      if (gap) pump();
      service.ready();
    };

    const onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (done) return;
      if (afterHello) {
        if (afterHello.length >= 100) return refuse(CLOSE.flood, 'rate-limited', 'too many frames before the sign-in was checked');
        afterHello.push(() => receive(data, isBinary));
        return;
      }
      lastSeen = Date.now();
      const now = Date.now();
      tokens = Math.min(rateLimit * 2, tokens + ((now - lastRefill) / 1000) * rateLimit);
      lastRefill = now;
      if (tokens < 1) {
        stats.rateLimited++;
        if (++dropped === 1 || dropped % 100 === 0) fail('rate-limited', `more than ${rateLimit} frames per second; frames dropped`);
        if (dropped > 1000) end(CLOSE.flood, 'flood');
        return;
      }
      tokens--;
      const parsed = isBinary ? { ok: false as const, error: 'binary frames are not part of the protocol' } : parseClientFrame(data.toString());
      if (!parsed.ok) {
        stats.badFrames++;
        logger.warn('bad frame', { agent: link?.agentId, error: parsed.error });
        if (!link) {
          const version = helloVersion(data);
          if (version !== undefined) {
            return refuse(CLOSE.badHello, 'unsupported-version', `this server speaks protocol v${PROTOCOL_VERSION}, not v${String(version).slice(0, 20)}`);
          }
          return refuse(CLOSE.badHello, 'bad-frame', `expected a hello frame: ${parsed.error}`);
        }
        return fail('bad-frame', parsed.error);
      }
      const frame = parsed.frame;
      if (frame.type === 'ping') return send({ type: 'pong', t: frame.t, serverTime: Date.now() });
      if (frame.type === 'hello') {
        if (link) return fail('bad-frame', 'hello was already received on this connection');
        // Frames that follow the hello wait until the agent is attached (a sign-in token is checked
        // asynchronously), then are handled in order.
        afterHello = [];
        return void hello(frame)
          .catch((error) => {
            unexpected('agent sign-in', error);
            end(CLOSE.internal, 'internal error');
          })
          .finally(releaseAfterHello);
      }
      if (!link) return refuse(CLOSE.badHello, 'not-ready', 'send hello first');
      if (frame.type === 'auth') {
        const agentId = link.agentId;
        // Only a sign-in token renews: a static one would let a connection try other agents' tokens.
        if (!verifier || !looksLikeJwt(frame.token)) return fail('bad-frame', 'auth carries a renewed sign-in token (an ID token)');
        return void identify(frame.token)
          .then((who) => {
            if (done) return;
            if ('agent' in who && who.agent.id === agentId) return endSignInAt(who.expiresAt);
            const why = 'agent' in who ? 'the renewed token is another agent' : 'refused' in who ? who.refused : 'the feed cannot check sign-ins right now';
            logger.warn('renewed sign-in refused; the connection ends with the current one', { agent: agentId, why });
            fail('unauthorized', `renewed sign-in refused: ${why}`);
          })
          .catch((error: unknown) => unexpected('sign-in renewal', error, { agent: agentId }));
      }
      // One command at a time, in the order they came: each may wait for the store.
      const from = link;
      commands = commands.then(async () => {
        if (done) return;
        try {
          await service.handle(from, frame);
          metrics.commands.inc({ type: frame.type, result: 'ok' });
        } catch (error) {
          metrics.commands.inc({ type: frame.type, result: error instanceof FeedError ? error.code : 'internal' });
          if (error instanceof FeedError) return fail(error.code, error.message, error.ref);
          unexpected('agent command', error, { agent: from.agentId, type: frame.type });
          fail('internal', 'the server could not apply that command');
        }
      });
    };

    const receive = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      try {
        onMessage(data, isBinary);
      } catch (error) {
        unexpected('WebSocket frame', error, { agent: link?.agentId });
        end(CLOSE.internal, 'internal error');
      }
    };
    socket.on('message', receive);

    socket.on('close', () => {
      done = true;
      sockets.delete(socket);
      clearTimeout(helloTimer);
      clearTimeout(signInEnds);
      clearInterval(heartbeat);
      if (link) service.detach(link);
    });
    socket.on('error', (error) => logger.warn('socket error', { agent: link?.agentId, error: String(error) }));
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  http.on('error', (error) => unexpected('HTTP server', error));
  await service.start();
  const port = (http.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  logger.info('feed server listening', { host, port, protocol: PROTOCOL_VERSION });

  return {
    port,
    httpUrl: `http://${host}:${port}`,
    feedUrl: `ws://${host}:${port}/feed`,
    service,
    apiKey,
    stats,
    async drain(waitMs = 5000) {
      draining = true;
      await cluster?.drain();
      // Agents move to another node now rather than after a timeout: 1012 tells the extension to.
      for (const s of sockets) s.close(CLOSE.restarting, 'this node is shutting down: connect to another');
      const until = Date.now() + waitMs;
      while (sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      logger.info('node drained', { left: sockets.size });
    },
    async close() {
      await service.stop();
      for (const s of sockets) s.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      await store.close();
    },
  };
}
