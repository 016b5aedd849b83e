/**
 * The reference feed server: one HTTP server carrying the JSON API under
 * /api/ and the agents' WebSocket at /feed.
 *
 * Socket lifecycle on the server:
 *
 *   open ──hello ok──► attached ──close / heartbeat missed──► gone
 *     │  (10 s, bad hello, bad token)
 *     └──────────────► closed with an error frame and a 44xx code
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type ErrorCode,
  MAX_CLIENT_FRAME_CHARS,
  parseClientFrame,
  PROTOCOL_VERSION,
  serializeServerFrame,
  type ServerFrame,
} from '../utils/protocol/feed.ts';
import { type AgentLink, FeedError, FeedService, type Logger, silentLogger } from './feed-service.ts';
import { handleApi, HttpError, sendError, sendJson } from './http-api.ts';
import { type ChannelOptions, channelRoutes } from './channels/webhooks.ts';
import { ChannelRouter, LoggingSender, type OutboundSender } from './channels/outbound.ts';
import { type AgentSeed, Store } from './store.ts';

/** WebSocket close codes, mirrored in docs/protocol.md. */
export const CLOSE = {
  badHello: 4400,
  unauthorized: 4401,
  heartbeat: 4408,
  replaced: 4409,
  flood: 4429,
} as const;

/** The `v` of a hello that names another protocol version, if that is what the frame is. */
function helloVersion(data: unknown): unknown {
  try {
    const json = JSON.parse(String(data)) as { type?: unknown; v?: unknown };
    return json.type === 'hello' && json.v !== PROTOCOL_VERSION ? json.v : undefined;
  } catch {
    return undefined;
  }
}

export interface FeedServerOptions {
  host?: string;
  port?: number;
  /** Directory of the SQLite file; `:memory:` keeps nothing across restarts. */
  dataDir?: string;
  agents?: AgentSeed[];
  apiKey?: string;
  offerTimeoutSec?: number;
  reofferCooldownSec?: number;
  heartbeatSec?: number;
  /** Frames per second one connection may send before it is told to slow down. */
  rateLimit?: number;
  logger?: Logger;
  /** SMS and Messenger webhooks, web chat. */
  channels?: ChannelOptions;
  /** Where agent replies on SMS and Messenger go; logged when not set. */
  outbound?: OutboundSender;
  /** Seconds a disconnected agent keeps its open offers. */
  rerouteGraceSec?: number;
  /** Seconds a connected agent's client has to acknowledge an offer. */
  ackTimeoutSec?: number;
  /** Extra HTTP routes (demo pages); return true when handled. */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL, service: FeedService) => Promise<boolean> | boolean;
}

export interface FeedServer {
  readonly port: number;
  readonly httpUrl: string;
  readonly feedUrl: string;
  readonly service: FeedService;
  /** Counts of what the server refused, for diagnostics and tests. */
  readonly stats: { badFrames: number; rateLimited: number; connections: number; resumes: number };
  close(): Promise<void>;
}

export async function startFeedServer(options: FeedServerOptions = {}): Promise<FeedServer> {
  const logger = options.logger ?? silentLogger;
  const heartbeatSec = options.heartbeatSec ?? 20;
  const rateLimit = options.rateLimit ?? 50;
  const dataDir = options.dataDir ?? '.data';
  const store = new Store(dataDir === ':memory:' ? ':memory:' : path.join(dataDir, 'deskbell-feed.sqlite'));
  if (options.agents) store.upsertAgents(options.agents);
  const service = new FeedService({
    store,
    logger,
    ...(options.offerTimeoutSec ? { offerTimeoutSec: options.offerTimeoutSec } : {}),
    ...(options.reofferCooldownSec !== undefined ? { reofferCooldownSec: options.reofferCooldownSec } : {}),
    ...(options.rerouteGraceSec !== undefined ? { rerouteGraceSec: options.rerouteGraceSec } : {}),
    ...(options.ackTimeoutSec !== undefined ? { ackTimeoutSec: options.ackTimeoutSec } : {}),
    outbound: options.outbound ?? new ChannelRouter({ sms: new LoggingSender(logger), facebook: new LoggingSender(logger) }, logger),
  });
  const stats = { badFrames: 0, rateLimited: 0, connections: 0, resumes: 0 };
  const channels = channelRoutes(options.channels ?? {});

  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    void (async () => {
      try {
        if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
        const handled =
          (await handleApi(req, res, url, {
            service,
            ...(options.apiKey ? { apiKey: options.apiKey } : {}),
            isConnected: (id) => service.isConnected(id),
          })) ||
          (await channels(req, res, url, service)) ||
          (await options.routes?.(req, res, url, service));
        if (!handled) throw new HttpError(404, 'not-found', `no route ${req.method} ${url.pathname}`);
      } catch (error) {
        if (!(error instanceof HttpError || error instanceof FeedError)) logger.warn('http error', { error: String(error) });
        if (!res.headersSent) sendError(res, error);
      }
    })();
  });

  const wss = new WebSocketServer({ server: http, path: '/feed', maxPayload: MAX_CLIENT_FRAME_CHARS * 4 });
  const sockets = new Set<WebSocket>();

  wss.on('connection', (socket) => {
    stats.connections++;
    sockets.add(socket);
    let link: AgentLink | undefined;
    let lastSeen = Date.now();
    let tokens = rateLimit * 2;
    let lastRefill = Date.now();
    let dropped = 0;

    const send = (frame: ServerFrame) => {
      if (socket.readyState !== socket.OPEN) return;
      const { text, trimmed } = serializeServerFrame(frame);
      if (trimmed) logger.warn('transcript too long for one frame: sent the newest messages', { agent: link?.agentId, trimmed });
      socket.send(text);
    };
    const fail = (code: ErrorCode, message: string, ref?: string) =>
      send({ type: 'error', code, message, ...(ref ? { ref } : {}) });
    const refuse = (close: number, code: ErrorCode, message: string) => {
      fail(code, message);
      socket.close(close, message.slice(0, 120));
    };

    const helloTimer = setTimeout(() => refuse(CLOSE.badHello, 'not-ready', 'no hello within 10 s'), 10_000);
    const heartbeat = setInterval(() => {
      if (Date.now() - lastSeen > heartbeatSec * 2000) {
        logger.warn('heartbeat missed', { agent: link?.agentId });
        socket.close(CLOSE.heartbeat, 'heartbeat missed');
        setTimeout(() => socket.terminate(), 1000).unref();
      }
    }, heartbeatSec * 1000);

    socket.on('message', (data, isBinary) => {
      lastSeen = Date.now();
      const now = Date.now();
      tokens = Math.min(rateLimit * 2, tokens + ((now - lastRefill) / 1000) * rateLimit);
      lastRefill = now;
      if (tokens < 1) {
        stats.rateLimited++;
        if (++dropped === 1 || dropped % 100 === 0) fail('rate-limited', `more than ${rateLimit} frames per second; frames dropped`);
        if (dropped > 1000) socket.close(CLOSE.flood, 'flood');
        return;
      }
      tokens--;
      const parsed = isBinary ? { ok: false as const, error: 'binary frames are not part of the protocol' } : parseClientFrame(data.toString());
      if (!parsed.ok) {
        stats.badFrames++;
        logger.warn('bad frame', { agent: link?.agentId, error: parsed.error });
        if (!link) {
          if (helloVersion(data) !== undefined) {
            return refuse(CLOSE.badHello, 'unsupported-version', `this server speaks protocol v${PROTOCOL_VERSION}, not v${helloVersion(data)}`);
          }
          return refuse(CLOSE.badHello, 'bad-frame', `expected a hello frame: ${parsed.error}`);
        }
        return fail('bad-frame', parsed.error);
      }
      const frame = parsed.frame;
      if (frame.type === 'ping') return send({ type: 'pong', t: frame.t, serverTime: Date.now() });
      if (frame.type === 'hello') {
        if (link) return fail('bad-frame', 'hello was already received on this connection');
        clearTimeout(helloTimer);
        const agent = store.agentByToken(frame.token);
        if (!agent) return refuse(CLOSE.unauthorized, 'unauthorized', 'unknown agent token');
        link = { agentId: agent.id, presence: frame.presence, send, close: (code, reason) => socket.close(code, reason) };
        const { welcome, replay, previous } = service.attach(agent, link, frame.resumeFrom);
        previous?.close(CLOSE.replaced, 'replaced by a newer connection');
        if (welcome.resumed && frame.resumeFrom > 0) stats.resumes++;
        send({ ...welcome, heartbeatSec });
        for (const event of replay) send(event);
        service.ready();
        return;
      }
      if (!link) return refuse(CLOSE.badHello, 'not-ready', 'send hello first');
      try {
        service.handle(link, frame);
      } catch (error) {
        if (error instanceof FeedError) return fail(error.code, error.message, error.ref);
        logger.warn('command failed', { error: String(error) });
        fail('internal', 'the server could not apply that command');
      }
    });

    socket.on('close', () => {
      sockets.delete(socket);
      clearTimeout(helloTimer);
      clearInterval(heartbeat);
      if (link) service.detach(link);
    });
    socket.on('error', (error) => logger.warn('socket error', { error: String(error) }));
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  service.start();
  const port = (http.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  logger.info('feed server listening', { host, port, protocol: PROTOCOL_VERSION });

  return {
    port,
    httpUrl: `http://${host}:${port}`,
    feedUrl: `ws://${host}:${port}/feed`,
    service,
    stats,
    async close() {
      service.stop();
      for (const s of sockets) s.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      store.close();
    },
  };
}
