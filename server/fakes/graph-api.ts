/**
 * A stand-in for the Messenger Send API (Graph) on 127.0.0.1, for tests. It
 * checks what Graph checks: the page token (bearer or `access_token`), the
 * `appsecret_proof` when the app requires one, the JSON shape, the
 * `messaging_type`, the text limit and the 24-hour window; it answers with
 * Graph's bodies and errors, and sends the page's webhook events (echo,
 * delivery, read) signed with the app secret.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyOf, FakeEndpoint, type Hold } from './fake-endpoint.ts';

export interface FakeGraphOptions {
  pageAccessToken: string;
  appSecret: string;
  pageId?: string;
  /** Refuse calls without a matching appsecret_proof (the app's "Require App Secret" setting). */
  requireProof?: boolean;
}

export interface SentMessage {
  mid: string;
  recipient: string;
  text: string;
  metadata?: string;
  messagingType: string;
  at: number;
}

export type GraphBehaviour = { kind: 'error'; status: number; code: number; subcode?: number; message: string } | Hold;

export class FakeGraph extends FakeEndpoint<GraphBehaviour> {
  readonly sent: SentMessage[] = [];
  readonly requests: { path: string; token: string | undefined; body: unknown }[] = [];
  /** When each customer last wrote to the page: the standard messaging window runs 24 hours from it. */
  readonly lastCustomerMessageAt = new Map<string, number>();
  constructor(readonly options: FakeGraphOptions) {
    super();
  }


  /** Posts page events to a webhook, signed as Meta signs them. */
  async webhook(url: string, messaging: Record<string, unknown>[]): Promise<number> {
    const body = JSON.stringify({ object: 'page', entry: [{ id: this.options.pageId ?? 'page-1', time: Date.now(), messaging }] });
    const signature = `sha256=${createHmac('sha256', this.options.appSecret).update(body).digest('hex')}`;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body });
    return res.status;
  }

  /** The echo Messenger sends for a message the page sent. */
  echoOf(m: SentMessage) {
    return {
      sender: { id: this.options.pageId ?? 'page-1' },
      recipient: { id: m.recipient },
      timestamp: m.at,
      message: { mid: m.mid, text: m.text, is_echo: true, ...(m.metadata ? { metadata: m.metadata } : {}) },
    };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await bodyOf(req);
    const url = new URL(req.url ?? '/', this.url);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('access_token') ?? undefined;
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    this.requests.push({ path: url.pathname, token, body });
    const error = (status: number, code: number, message: string, subcode?: number): void =>
      void res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message, type: 'OAuthException', code, ...(subcode ? { error_subcode: subcode } : {}), fbtrace_id: randomBytes(6).toString('hex') } }));

    if (!/^\/v\d+\.\d+\/me\/messages$/.test(url.pathname) || req.method !== 'POST') return error(400, 100, `Unsupported ${req.method} request.`);
    if (token !== this.options.pageAccessToken) return error(401, 190, 'Invalid OAuth access token - Cannot parse access token');
    const proof = createHmac('sha256', this.options.appSecret).update(this.options.pageAccessToken).digest('hex');
    const given = url.searchParams.get('appsecret_proof');
    if ((this.options.requireProof && !given) || (given && given !== proof)) return error(400, 100, 'Invalid appsecret_proof provided in the API argument');
    const b = body as { recipient?: { id?: unknown }; messaging_type?: unknown; message?: { text?: unknown; metadata?: unknown } } | undefined;
    if (!req.headers['content-type']?.startsWith('application/json') || !b) return error(400, 100, 'The parameter recipient is required');
    if (typeof b.recipient?.id !== 'string') return error(400, 100, 'The parameter recipient is required');
    if (!['RESPONSE', 'UPDATE', 'MESSAGE_TAG'].includes(String(b.messaging_type))) return error(400, 100, 'The parameter messaging_type is required');
    const text = b.message?.text;
    if (typeof text !== 'string' || text.length === 0) return error(400, 100, 'The parameter message[text] is required');
    if (text.length > 2000) return error(400, 100, 'param message[text] must be less than or equal to 2000 characters');
    if (b.message?.metadata !== undefined && (typeof b.message.metadata !== 'string' || b.message.metadata.length > 1000)) return error(400, 100, 'Invalid metadata');
    const last = this.lastCustomerMessageAt.get(b.recipient.id);
    if (b.messaging_type === 'RESPONSE' && (last === undefined || Date.now() - last > 24 * 3600_000)) {
      return error(400, 10, 'This message is sent outside of allowed window.', 2018278);
    }
    const behaviour = this.next();
    if (behaviour?.kind === 'error') return error(behaviour.status, behaviour.code, behaviour.message, behaviour.subcode);
    const sent: SentMessage = {
      mid: `m_${randomBytes(12).toString('hex')}`,
      recipient: b.recipient.id,
      text,
      ...(typeof b.message?.metadata === 'string' ? { metadata: b.message.metadata } : {}),
      messagingType: String(b.messaging_type),
      at: Date.now(),
    };
    if (behaviour?.kind === 'hold') {
      if (behaviour.created) this.sent.push(sent);
      this.hold(res);
      return;
    }
    this.sent.push(sent);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ recipient_id: sent.recipient, message_id: sent.mid }));
  }
}
