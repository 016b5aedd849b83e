/**
 * The HTTP API through which channels and tools create conversations, post
 * customer messages and end conversations. JSON in, JSON out; every refusal
 * is a 4xx with `{error: {code, message}}` naming what was wrong.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import {
  ChannelSchema,
  CustomerSchema,
  DEFAULT_CHANNEL,
  MAX_MEDIA,
  MediaSchema,
  normalizeName,
  OfferContextSchema,
  ScenarioSchema,
} from '../protocol/feed.ts';
import { FeedError } from './errors.ts';
import type { FeedService } from './feed-service.ts';
import { clientAddress, type Edge } from './rate-limit.ts';
import { sameSecret } from './secrets.ts';

const MAX_BODY_BYTES = 64 * 1024;

/**
 * A customer's name as it may be shown to agents: normalised (NFC; zero-width,
 * bidi and control characters removed), then 1 to 200 characters.
 */
export const CustomerName = v.pipe(
  v.string(),
  v.transform(normalizeName),
  v.minLength(1, 'is empty once invisible and control characters are removed'),
  v.maxLength(200),
);

export const CreateConversationBody = v.object({
  scenario: ScenarioSchema,
  channel: v.optional(ChannelSchema),
  customer: v.object({ ...CustomerSchema.entries, name: CustomerName }),
  comment: v.optional(v.pipe(v.string(), v.maxLength(4000)), ''),
  queue: v.optional(v.pipe(v.string(), v.maxLength(200))),
  context: v.optional(OfferContextSchema),
  /** How long the customer has already waited elsewhere (a bot, another queue). */
  waitedSec: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(86400))),
});

export const PostMessageBody = v.pipe(
  v.object({
    text: v.optional(v.pipe(v.string(), v.maxLength(8000)), ''),
    from: v.optional(v.picklist(['customer', 'bot', 'system']), 'customer'),
    media: v.optional(v.pipe(v.array(MediaSchema), v.maxLength(MAX_MEDIA))),
  }),
  v.check((m) => m.text.trim().length > 0 || (m.media?.length ?? 0) > 0, 'send text, media or both'),
);

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Sent as Retry-After (a 429 or 503). */
    readonly retryAfterSec?: number,
  ) {
    super(message);
  }
}

/** A 429 that says when to come back. */
export function tooMany(what: string, retryAfterSec: number): HttpError {
  return new HttpError(429, 'rate-limited', `${what}; try again in ${retryAfterSec} s`, retryAfterSec);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, 'too-large', `request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The media type of a Content-Type header, lower case, without its parameters: `text/plain;charset=application/json` is `text/plain`. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

export async function readJson<T>(req: IncomingMessage, schema: v.GenericSchema<unknown, T>): Promise<T> {
  // Parsed, not searched: a browser sends `text/plain;…` cross-site without a preflight, JSON never.
  if (mediaType(req.headers['content-type']) !== 'application/json') {
    throw new HttpError(415, 'unsupported-media-type', 'send the body as application/json');
  }
  const raw = (await readBody(req)).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'bad-json', 'the body is not valid JSON');
  }
  const result = v.safeParse(schema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join('.');
    throw new HttpError(400, 'invalid', where ? `${where}: ${issue.message}` : issue.message);
  }
  return result.output;
}

export interface ApiOptions {
  service: FeedService;
  /** Every /api request needs `Authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** Wrong keys count against the caller's address. */
  edge: Edge;
  isConnected(agentId: string): boolean;
}

/** Throws 401 on a wrong key, 429 once the address has sent too many wrong ones. */
export function checkBearer(req: IncomingMessage, expected: string, edge: Edge): void {
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
  const check = edge.checkCredential(clientAddress(req), () => (sameSecret(given, expected) ? true : undefined));
  if (check.ok) return;
  if (check.why === 'throttled') throw tooMany('too many wrong keys from this address', check.retryAfterSec);
  throw new HttpError(401, 'unauthorized', 'missing or wrong API key (Authorization: Bearer …)');
}

/** Handles one /api request; returns false when the path is not the API's. */
export async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, options: ApiOptions): Promise<boolean> {
  if (!url.pathname.startsWith('/api/')) return false;
  const { service } = options;
  checkBearer(req, options.apiKey, options.edge);
  const parts = url.pathname.split('/').filter(Boolean).slice(1);
  const method = req.method ?? 'GET';
  const route = `${method} ${parts.map((p, i) => (i === 1 ? ':id' : p)).join('/')}`;

  switch (route) {
    case 'POST conversations': {
      const body = await readJson(req, CreateConversationBody);
      const conversation = await service.createConversation({
        scenario: body.scenario,
        channel: body.channel ?? DEFAULT_CHANNEL[body.scenario],
        customer: body.customer,
        comment: body.comment,
        ...(body.queue ? { queue: body.queue } : {}),
        ...(body.context ? { context: body.context } : {}),
        ...(body.waitedSec ? { waitingSince: Date.now() - body.waitedSec * 1000 } : {}),
      });
      await service.committed();
      sendJson(res, 201, { conversation: await service.store.conversation(conversation.id) });
      return true;
    }
    case 'GET conversations/:id': {
      const conversation = await service.store.conversation(parts[1]!);
      if (!conversation) throw new HttpError(404, 'not-found', `no conversation ${parts[1]}`);
      sendJson(res, 200, { conversation, transcript: await service.store.transcript(conversation.id), offers: await service.store.offersOf(conversation.id) });
      return true;
    }
    case 'POST conversations/:id/messages': {
      const body = await readJson(req, PostMessageBody);
      const message = await service.postMessage(parts[1]!, body.text, body.from, body.media);
      await service.committed();
      sendJson(res, 201, { message });
      return true;
    }
    case 'POST conversations/:id/end': {
      await service.endByCustomer(parts[1]!);
      await service.committed();
      sendJson(res, 200, { conversation: await service.store.conversation(parts[1]!) });
      return true;
    }
    case 'GET queue': {
      sendJson(res, 200, { queue: await service.queue() });
      return true;
    }
    case 'GET agents/:id': {
      const agent = await service.store.agent(parts[1]!);
      if (!agent) throw new HttpError(404, 'not-found', `no agent ${parts[1]}`);
      sendJson(res, 200, {
        agent: { id: agent.id, name: agent.name, capacity: agent.capacity, ...(agent.queues ? { queues: agent.queues } : {}) },
        connected: options.isConnected(agent.id),
        lastSeq: await service.store.lastSeq(agent.id),
        openOffers: await service.store.openOffersFor(agent.id),
      });
      return true;
    }
    case 'POST agents/:id/sign-out': {
      if (!(await service.signOut(parts[1]!))) throw new HttpError(404, 'not-found', `no agent ${parts[1]} (or the agent is disabled)`);
      sendJson(res, 200, { signedOut: parts[1] });
      return true;
    }
    default:
      throw new HttpError(404, 'not-found', `no route ${method} ${url.pathname}`);
  }
}

/** Maps a thrown error to the HTTP answer a client can act on. */
export function sendError(res: ServerResponse, error: unknown): void {
  if (error instanceof HttpError) {
    if (error.retryAfterSec !== undefined) res.setHeader('retry-after', String(error.retryAfterSec));
    return sendJson(res, error.status, { error: { code: error.code, message: error.message } });
  }
  if (error instanceof FeedError) {
    const status = error.code === 'unknown-conversation' ? 404 : 409;
    return sendJson(res, status, { error: { code: error.code, message: error.message } });
  }
  sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
}
