/**
 * Channel endpoints of the reference server:
 *
 *   POST /webhooks/sms             form-encoded From, To, Body, MessageSid; X-Twilio-Signature
 *   POST /webhooks/sms/status      Twilio's status callback of an agent's reply (signed the same way)
 *   GET  /webhooks/messenger       hub.mode, hub.verify_token, hub.challenge (subscription check)
 *   POST /webhooks/messenger       page events (messages, echoes, deliveries, reads); X-Hub-Signature-256
 *   GET  /chat                     the customer's web chat page
 *   POST /webchat/conversations    {name, question} → {conversationId, token}
 *   POST /webchat/conversations/:id/messages   {text}, Authorization: Bearer <token>
 *   GET  /webchat/conversations/:id/events?token=…   server-sent events
 *   POST /webchat/conversations/:id/end
 *
 * A webhook whose channel is not configured is 404; a bad signature is 403.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as v from 'valibot';
import { type Media, MAX_MEDIA, MediaSchema, normalizeName } from '../../protocol/feed.ts';
import type { FeedService } from '../feed-service.ts';
import type { ConversationUpdate } from '../conversations.ts';
import { messageIdFromMetadata, TwilioSmsSender } from './outbound.ts';
import { HttpError, readBody, readJson, sendJson, tooMany } from '../http-api.ts';
import { clientAddress, type Edge } from '../rate-limit.ts';
import { sameSecret } from '../secrets.ts';
import { validMessengerSignature, validSmsSignature } from './signatures.ts';
import { WEBCHAT_PAGE } from './webchat-page.ts';

export interface ChannelOptions {
  sms?: {
    /** The provider account's auth token: the key of the request signatures. */
    authToken: string;
    /** The URL the provider calls, exactly as configured there (the signature covers it). */
    publicUrl: string;
  };
  messenger?: { appSecret: string; verifyToken: string };
  /** Serve the web chat page and its API (on by default). */
  webchat?: boolean;
}

const WebchatStart = v.object({
  name: v.pipe(v.string(), v.transform(normalizeName), v.minLength(1, 'Tell us your name.'), v.maxLength(200)),
  question: v.pipe(v.string(), v.trim(), v.minLength(1, 'Tell us what you need.'), v.maxLength(4000)),
});
const WebchatMessage = v.object({ text: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(4000)) });

const PsId = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const Mid = v.pipe(v.string(), v.minLength(1), v.maxLength(200));
const Watermark = v.pipe(v.number(), v.integer(), v.minValue(0));

const MessengerEvent = v.object({
  object: v.literal('page'),
  entry: v.array(
    v.object({
      messaging: v.optional(
        v.array(
          v.object({
            sender: v.object({ id: PsId }),
            recipient: v.optional(v.object({ id: PsId })),
            // The customer's app got (or read) the page's messages up to the watermark.
            delivery: v.optional(v.object({ mids: v.optional(v.pipe(v.array(Mid), v.maxLength(1000))), watermark: Watermark })),
            read: v.optional(v.object({ watermark: Watermark })),
            message: v.optional(
              v.object({
                mid: Mid,
                text: v.optional(v.string()),
                is_echo: v.optional(v.boolean()),
                /** Set by the sender of an echoed message: ours name the reply (`deskbell:<message id>`). */
                metadata: v.optional(v.string()),
                // Photos, videos, files, stickers: each with a payload URL, or none (a shared location, a template).
                attachments: v.optional(
                  v.array(v.object({ type: v.optional(v.string()), payload: v.optional(v.nullable(v.object({ url: v.optional(v.string()) }))) })),
                ),
              }),
            ),
          }),
        ),
        [],
      ),
    }),
  ),
});

/** Where Twilio reports the status of agents' replies: next to the inbound webhook, as Twilio reaches it. */
export const smsStatusUrl = (publicUrl: string) => `${publicUrl.replace(/\/+$/, '')}/status`;

/** Twilio's message statuses, as the agent sees them; the ones before `sent` add nothing to what the agent knows. */
const TWILIO_STATUS: Record<string, 'sent' | 'delivered' | 'read' | 'failed'> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  undelivered: 'failed',
  failed: 'failed',
  canceled: 'failed',
};

/** Twilio's words for the errors a status callback reports by number alone. */
const TWILIO_ERRORS: Record<string, string> = {
  '30001': 'queue overflow at Twilio',
  '30002': 'the Twilio account is suspended',
  '30003': "the customer's phone is unreachable (off, or out of coverage)",
  '30004': 'the customer has blocked messages',
  '30005': 'the number does not exist',
  '30006': 'the number is a landline or cannot receive SMS',
  '30007': 'the carrier filtered the message as spam',
  '30008': 'unknown error at the carrier',
  '21610': 'the customer unsubscribed (replied STOP)',
};

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * What a channel sent along with a message: https addresses become media the
 * agent can open; anything else (a plain http link, a payload with no URL) is
 * kept as a line of text, so nothing the customer sent is lost.
 */
export function splitMedia(items: { url?: string | undefined; contentType?: string | undefined; type?: string | undefined }[]): { media: Media[]; notes: string[] } {
  const media: Media[] = [];
  const notes: string[] = [];
  for (const item of items) {
    const candidate = { url: item.url ?? '', ...(item.contentType ? { contentType: item.contentType.slice(0, 100) } : {}) };
    if (media.length < MAX_MEDIA && v.is(MediaSchema, candidate)) media.push(candidate);
    else notes.push(`[${item.type ?? item.contentType ?? 'attachment'}${item.url ? `: ${item.url.slice(0, 2000)}` : ''}]`);
  }
  return { media, notes };
}

/** Reads a Twilio webhook's form body and checks its signature against the URL Twilio was given. */
async function signedSmsForm(req: IncomingMessage, authToken: string, url: string): Promise<URLSearchParams> {
  const params = new URLSearchParams((await readBody(req)).toString('utf8'));
  const signature = req.headers['x-twilio-signature'];
  const settings = req.headers['x-twilio-webhooks-signature-settings'];
  if (!validSmsSignature(authToken, url, params, typeof signature === 'string' ? signature : undefined, typeof settings === 'string' ? settings : undefined)) {
    throw new HttpError(403, 'bad-signature', 'the request signature does not match');
  }
  return params;
}

/** The customer's text and the notes about what could not be media, as one message text. */
function joinText(text: string, notes: string[]): string {
  return [text.trim(), ...notes].filter(Boolean).join('\n').slice(0, 8000);
}

export function channelRoutes(options: ChannelOptions, edge: Edge) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL, service: FeedService): Promise<boolean> => {
    const method = req.method ?? 'GET';
    const path = url.pathname;

    if (path === '/webhooks/sms/status') {
      if (!options.sms) throw new HttpError(404, 'not-configured', 'the SMS channel is not configured on this server');
      if (method !== 'POST') throw new HttpError(405, 'method-not-allowed', 'POST the status here');
      const params = await signedSmsForm(req, options.sms.authToken, smsStatusUrl(options.sms.publicUrl));
      const sid = params.get('MessageSid')?.trim() ?? params.get('SmsSid')?.trim();
      const status = params.get('MessageStatus') ?? params.get('SmsStatus') ?? '';
      if (!sid || sid.length > 200) throw new HttpError(400, 'invalid', 'MessageSid is required');
      const mapped = TWILIO_STATUS[status];
      if (mapped) {
        const code = params.get('ErrorCode')?.trim().slice(0, 20) || undefined;
        const text = code ? `Twilio ${code}: ${TWILIO_ERRORS[code] ?? params.get('ErrorMessage')?.slice(0, 300) ?? 'not delivered'}` : `Twilio: the message was ${status}`;
        await service.delivery.report('sms', sid, mapped, mapped === 'failed' ? { ...(code ? { code } : {}), text, retryable: TwilioSmsSender.retryableCode(code) } : undefined);
        await service.committed();
      }
      res.writeHead(204).end();
      return true;
    }

    if (path === '/webhooks/sms') {
      if (!options.sms) throw new HttpError(404, 'not-configured', 'the SMS channel is not configured on this server');
      if (method !== 'POST') throw new HttpError(405, 'method-not-allowed', 'POST the message here');
      const params = await signedSmsForm(req, options.sms.authToken, options.sms.publicUrl);
      const from = params.get('From')?.trim();
      const sid = params.get('MessageSid')?.trim();
      const body = params.get('Body') ?? '';
      if (!from || !sid) throw new HttpError(400, 'invalid', 'From and MessageSid are required');
      if (from.length > 40 || sid.length > 200) throw new HttpError(400, 'invalid', 'From or MessageSid is too long');
      // MMS: NumMedia, MediaUrl0…, MediaContentType0…; a photo with no words is still a message.
      const count = Math.min(Number.parseInt(params.get('NumMedia') ?? '0', 10) || 0, 50);
      const { media, notes } = splitMedia(
        Array.from({ length: count }, (_, i) => ({ url: params.get(`MediaUrl${i}`) ?? undefined, contentType: params.get(`MediaContentType${i}`) ?? undefined })),
      );
      const text = joinText(body, notes);
      if (!text && media.length === 0) throw new HttpError(400, 'invalid', 'the message has neither Body nor media');
      const name = normalizeName(from) || 'SMS customer';
      await service.receiveInbound({ source: 'sms', externalId: sid, channel: 'sms', scenario: 'sms', address: from, customer: { name, phone: from }, text, media });
      await service.committed();
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
      return true;
    }

    if (path === '/webhooks/messenger') {
      if (!options.messenger) throw new HttpError(404, 'not-configured', 'the Messenger channel is not configured on this server');
      if (method === 'GET') {
        const mode = url.searchParams.get('hub.mode');
        const token = url.searchParams.get('hub.verify_token');
        const challenge = url.searchParams.get('hub.challenge');
        if (mode !== 'subscribe' || !sameSecret(token ?? undefined, options.messenger.verifyToken) || !challenge) throw new HttpError(403, 'bad-verify-token', 'verification failed');
        res.writeHead(200, { 'content-type': 'text/plain' }).end(challenge);
        return true;
      }
      if (method !== 'POST') throw new HttpError(405, 'method-not-allowed', 'GET to verify, POST events');
      const raw = await readBody(req);
      const signature = req.headers['x-hub-signature-256'];
      if (!validMessengerSignature(options.messenger.appSecret, raw, typeof signature === 'string' ? signature : undefined)) {
        throw new HttpError(403, 'bad-signature', 'the request signature does not match');
      }
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, 'bad-json', 'the body is not valid JSON');
      }
      const parsed = v.safeParse(MessengerEvent, json);
      if (!parsed.success) throw new HttpError(400, 'invalid', v.summarize(parsed.issues).split('\n')[0]!);
      for (const entry of parsed.output.entry) {
        for (const event of entry.messaging) {
          // The customer's app received or read the page's replies.
          if (event.delivery) {
            for (const mid of event.delivery.mids ?? []) await service.delivery.report('facebook', mid, 'delivered');
            if (!event.delivery.mids) await service.delivery.upTo(event.sender.id, event.delivery.watermark, 'delivered');
          }
          if (event.read) await service.delivery.upTo(event.sender.id, event.read.watermark, 'read');
          const message = event.message;
          if (!message) continue;
          // Echoes are the page's own messages coming back: ours say which reply they are (one in doubt is then known sent).
          if (message.is_echo) {
            const ours = messageIdFromMetadata(message.metadata);
            if (ours) await service.delivery.echo(ours, message.mid);
            continue;
          }
          const { media, notes } = splitMedia((message.attachments ?? []).map((a) => ({ url: a.payload?.url, type: a.type })));
          const text = joinText(message.text ?? '', notes);
          if (!text && media.length === 0) continue;
          await service.receiveInbound({
            source: 'messenger',
            externalId: message.mid,
            channel: 'facebook',
            scenario: 'facebook',
            address: event.sender.id,
            customer: { name: `Messenger user ${event.sender.id.slice(-4)}` },
            text,
            media,
          });
        }
      }
      await service.committed();
      res.writeHead(200, { 'content-type': 'text/plain' }).end('EVENT_RECEIVED');
      return true;
    }

    if (options.webchat === false) return false;

    if (path === '/chat' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'" });
      res.end(WEBCHAT_PAGE);
      return true;
    }

    const address = clientAddress(req);

    if (path === '/webchat/conversations' && method === 'POST') {
      if (!edge.webchatStarts.take(address)) throw tooMany('too many chats started from this address', edge.webchatStarts.retryAfterSec(address));
      const body = await readJson(req, WebchatStart);
      const token = randomBytes(24).toString('base64url');
      const conversation = await service.createConversation({
        scenario: 'chat',
        channel: 'chat',
        customer: { name: body.name },
        comment: body.question,
        queue: 'Web chat',
        address: tokenHash(token),
      });
      await service.committed();
      sendJson(res, 201, { conversationId: conversation.id, token });
      return true;
    }

    const match = /^\/webchat\/conversations\/([\w-]{1,128})\/(messages|events|end)$/.exec(path);
    if (match) {
      const [, id, action] = match as unknown as [string, string, string];
      const conversation = await service.store.conversation(id);
      const token = url.searchParams.get('token') ?? req.headers.authorization?.replace(/^Bearer /, '') ?? '';
      if (!conversation || conversation.channel !== 'chat' || !sameSecret(tokenHash(token), conversation.address ?? '')) {
        throw new HttpError(404, 'not-found', 'no such chat');
      }
      if (action === 'messages' && method === 'POST') {
        if (!edge.customerMessages.take(address)) throw tooMany('too many messages from this address', edge.customerMessages.retryAfterSec(address));
        const body = await readJson(req, WebchatMessage);
        const message = await service.postMessage(id, body.text);
        await service.committed();
        sendJson(res, 201, { message });
        return true;
      }
      if (action === 'end' && method === 'POST') {
        await service.endByCustomer(id);
        await service.committed();
        sendJson(res, 200, { ended: true });
        return true;
      }
      if (action === 'events' && method === 'GET') {
        const release = edge.openStream(id, address);
        if (!release) throw tooMany('too many open event streams for this chat or address', 10);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        let closed = false;
        let stop = () => {};
        const ping = setInterval(() => write(': ping\n\n'), 20_000);
        const close = () => {
          closed = true;
          stop();
          clearInterval(ping);
          release();
        };
        const write = (text: string) => {
          if (closed) return;
          // A reader that does not keep up is let go: its browser reconnects and gets the transcript again.
          if (res.writableLength > edge.limits.maxStreamBacklogBytes) {
            close();
            res.destroy();
            return;
          }
          res.write(text);
        };
        const send = (data: unknown) => write(`data: ${JSON.stringify(data)}\n\n`);
        req.on('close', close);
        res.on('close', close);
        // Listening starts before the transcript is read, so nothing said meanwhile is lost; what came
        // meanwhile waits behind the transcript, and a message in both is sent once.
        let held: ConversationUpdate[] | undefined = [];
        stop = service.watch(id, (update) => (held ? held.push(update) : send(update)));
        const transcript = await service.store.transcript(id);
        const shown = new Set(transcript.map((m) => m.id));
        for (const message of transcript) send({ type: 'message', message });
        if (conversation.status === 'ended') send({ type: 'ended', by: 'system' });
        for (const update of held) if (update.type !== 'message' || !shown.has(update.message.id)) send(update);
        held = undefined;
        return true;
      }
      throw new HttpError(405, 'method-not-allowed', `${method} ${path} is not supported`);
    }
    return false;
  };
}
