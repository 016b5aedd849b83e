/**
 * How agent replies leave for channels the server does not host itself:
 * SMS through Twilio's Messages API (the official `twilio` library), and
 * Messenger through the Graph Send API. Each sender sends one reply and says
 * how it went in the terms delivery.ts acts on: the provider's id, or a
 * `DeliveryError` that is worth retrying, final, or in doubt (the request may
 * have reached the provider, and only asking it tells).
 */
import { createHmac } from 'node:crypto';
import type { OutboxRecord } from '../store.ts';

export type OutboundChannel = OutboxRecord['channel'];

/** What a sender needs of a reply. */
export type OutboundItem = Pick<OutboxRecord, 'messageId' | 'conversationId' | 'channel' | 'to' | 'text' | 'attemptAt'>;

/**
 * - `retry`: the provider did not take it, and may later (429, 5xx, no connection).
 * - `final`: it never will (invalid number, blocked user, outside the window); `retryable` when a person may mend the cause and try again (an expired token).
 * - `in-doubt`: the request may have been taken (timeout, connection lost after sending).
 */
export class DeliveryError extends Error {
  constructor(
    readonly kind: 'retry' | 'final' | 'in-doubt',
    message: string,
    readonly code?: string,
    readonly options: { retryAfterMs?: number; retryable?: boolean } = {},
  ) {
    super(message);
  }
}

export interface ChannelSender {
  readonly channel: OutboundChannel;
  /** For the start banner: what this sender sends through, with no secret in it. */
  readonly description: string;
  /** Sends one reply; resolves with the provider's id of it. Throws DeliveryError. */
  send(item: OutboundItem): Promise<{ providerId: string }>;
  /**
   * For a reply in doubt: asks the provider whether it has it. `unsent` when
   * it surely does not, `unknown` when it cannot tell (delivery then waits
   * for the provider's echo before sending again). Throws DeliveryError
   * (`retry`) when the provider could not be asked.
   */
  reconcile(item: OutboundItem): Promise<{ providerId: string } | 'unsent' | 'unknown'>;
}

// -- SMS through Twilio ----------------------------------------------------------

export interface TwilioSmsOptions {
  accountSid: string;
  /** The account's auth token, or an API key's secret with `apiKeySid`. */
  authToken?: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  /** A Twilio number (E.164) the replies come from, or a Messaging Service that picks one. */
  from?: string;
  messagingServiceSid?: string;
  /** Where Twilio reports each reply's status: this server's `/webhooks/sms/status`, as Twilio reaches it. */
  statusCallback: string;
  /** Twilio's REST base (default https://api.twilio.com): a regional edge, a proxy, or a test's fake. */
  apiBaseUrl?: string;
  /** Milliseconds to wait for Twilio's answer before the reply is in doubt. */
  timeoutMs?: number;
}

/** Network failures that happen before a request can have reached the provider. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);

/** Twilio error codes a retry by the agent may mend (the phone was off, a carrier hiccup); others are final. */
const TWILIO_RETRYABLE = new Set(['30001', '30003', '30008', '30009', '30010']);

function retryAfterMs(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 3600) * 1000;
  const date = Date.parse(String(value));
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - Date.now()), 3_600_000);
}

function networkError(error: unknown, what: string): DeliveryError {
  const code = (error as { code?: unknown }).code;
  const name = typeof code === 'string' ? code : '';
  const text = `${what}: ${name || (error as Error).message || String(error)}`;
  return new DeliveryError(NOT_SENT_CODES.has(name) ? 'retry' : 'in-doubt', text, name || undefined);
}

/** Twilio's Messages API through the official library; a 429's `Retry-After` is honoured. */
export class TwilioSmsSender implements ChannelSender {
  readonly channel = 'sms' as const;
  readonly description: string;
  #client: Promise<import('twilio').Twilio> | undefined;

  constructor(private readonly options: TwilioSmsOptions) {
    const via = options.messagingServiceSid ? `Messaging Service ${options.messagingServiceSid}` : `from ${options.from}`;
    this.description = `SMS via Twilio (account ${options.accountSid}, ${via}${options.apiBaseUrl ? `, API ${options.apiBaseUrl}` : ''})`;
  }

  /** The library is loaded only by a server that sends SMS. */
  #twilio(): Promise<import('twilio').Twilio> {
    return (this.#client ??= import('twilio').then(({ default: twilio }) => {
      const o = this.options;
      const base = o.apiBaseUrl ? new URL(o.apiBaseUrl) : undefined;
      // The library's own HTTP client, pointed elsewhere when configured; a 429 keeps its Retry-After.
      class HttpClient extends twilio.RequestClient {
        override async request<T>(opts: import('twilio/lib/base/RequestClient.js').RequestOptions<T>) {
          if (base) {
            const uri = new URL(opts.uri);
            uri.protocol = base.protocol;
            uri.host = base.host;
            opts = { ...opts, uri: uri.href };
          }
          const response = await super.request<T>(opts);
          if (response.statusCode === 429) {
            const body = response.body as { code?: number; message?: string } | undefined;
            throw new DeliveryError('retry', `Twilio is rate limiting: ${body?.message ?? 'too many requests'}`, String(body?.code ?? 429), {
              retryAfterMs: retryAfterMs((response.headers as Record<string, unknown>)['retry-after']),
            });
          }
          return response;
        }
      }
      const httpClient = new HttpClient({ timeout: o.timeoutMs ?? 30_000 });
      return o.apiKeySid
        ? twilio(o.apiKeySid, o.apiKeySecret, { accountSid: o.accountSid, httpClient })
        : twilio(o.accountSid, o.authToken, { httpClient });
    }));
  }

  async send(item: OutboundItem): Promise<{ providerId: string }> {
    const client = await this.#twilio();
    const o = this.options;
    try {
      const message = await client.messages.create({
        to: item.to,
        body: item.text,
        statusCallback: o.statusCallback,
        ...(o.messagingServiceSid ? { messagingServiceSid: o.messagingServiceSid } : { from: o.from! }),
      });
      return { providerId: message.sid };
    } catch (error) {
      throw this.#classify(error, 'Twilio');
    }
  }

  async reconcile(item: OutboundItem): Promise<{ providerId: string } | 'unsent'> {
    const client = await this.#twilio();
    const o = this.options;
    let recent: { sid: string; body: string; dateCreated: Date }[];
    try {
      recent = await client.messages.list({ to: item.to, ...(o.messagingServiceSid ? {} : { from: o.from! }), limit: 50 });
    } catch (error) {
      const classified = this.#classify(error, 'Twilio (looking up a reply in doubt)');
      throw new DeliveryError('retry', classified.message, classified.code, classified.options);
    }
    // Twilio keeps no id of ours: the same words to the same number since the attempt began is the reply.
    const since = (item.attemptAt ?? 0) - 5 * 60_000;
    const found = recent.find((m) => m.body === item.text && m.dateCreated.getTime() >= since);
    return found ? { providerId: found.sid } : 'unsent';
  }

  #classify(error: unknown, who: string): DeliveryError {
    if (error instanceof DeliveryError) return error;
    const e = error as { status?: number; code?: number; message?: string };
    if (typeof e.status === 'number') {
      const code = e.code !== undefined ? String(e.code) : String(e.status);
      const text = `${who}: ${e.message ?? `HTTP ${e.status}`}`;
      if (e.status >= 500 || e.status === 408) return new DeliveryError('retry', text, code);
      // 401/403: the operator's credentials; a person can mend that and retry.
      return new DeliveryError('final', text, code, { retryable: e.status === 401 || e.status === 403 || TWILIO_RETRYABLE.has(code) });
    }
    return networkError(error, who);
  }

  /** Whether an agent's Retry can help after Twilio reported this error code on a status callback. */
  static retryableCode(code: string | undefined): boolean {
    return code === undefined || TWILIO_RETRYABLE.has(code);
  }
}

// -- Messenger through the Graph Send API ---------------------------------------------

export interface MessengerSendOptions {
  pageAccessToken: string;
  /** Signs each call (`appsecret_proof`), as apps that require it must. */
  appSecret?: string;
  /** Graph base with version (default https://graph.facebook.com/v21.0). */
  graphUrl?: string;
  timeoutMs?: number;
}

/** Graph error codes that pass with time: rate limits and temporary failures. */
const GRAPH_TRANSIENT = new Set([1, 2, 4, 17, 32, 341, 368, 613, 1200, 80006]);

/** The metadata a reply carries, echoed back by Messenger: how a reply in doubt is recognised. */
export const messengerMetadata = (messageId: string) => `deskbell:${messageId}`;

/** The reply an echo's metadata names, if the echo is of one of ours. */
export function messageIdFromMetadata(metadata: string | undefined): string | undefined {
  return /^deskbell:([\w-]{1,128})$/.exec(metadata ?? '')?.[1];
}

export class MessengerSender implements ChannelSender {
  readonly channel = 'facebook' as const;
  readonly description: string;
  readonly #url: string;

  constructor(private readonly options: MessengerSendOptions) {
    this.#url = `${(options.graphUrl ?? 'https://graph.facebook.com/v21.0').replace(/\/+$/, '')}/me/messages`;
    this.description = `Messenger via the Send API (${this.#url})`;
  }

  async send(item: OutboundItem): Promise<{ providerId: string }> {
    const url = new URL(this.#url);
    if (this.options.appSecret) {
      url.searchParams.set('appsecret_proof', createHmac('sha256', this.options.appSecret).update(this.options.pageAccessToken).digest('hex'));
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.pageAccessToken}` },
        body: JSON.stringify({
          recipient: { id: item.to },
          messaging_type: 'RESPONSE',
          message: { text: item.text, metadata: messengerMetadata(item.messageId) },
        }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause ?? error;
      throw networkError(cause, 'Messenger');
    }
    let body: { message_id?: unknown; error?: { message?: unknown; code?: unknown; error_subcode?: unknown } } = {};
    try {
      body = (await res.json()) as typeof body;
    } catch {
      if (res.ok) throw new DeliveryError('in-doubt', `Messenger answered ${res.status} without a message id`);
    }
    if (res.ok && typeof body.message_id === 'string') return { providerId: body.message_id };
    if (res.ok) throw new DeliveryError('in-doubt', `Messenger answered ${res.status} without a message id`);
    const code = typeof body.error?.code === 'number' ? body.error.code : undefined;
    const sub = typeof body.error?.error_subcode === 'number' ? body.error.error_subcode : undefined;
    const text = `Messenger: ${typeof body.error?.message === 'string' ? body.error.message.slice(0, 400) : `HTTP ${res.status}`}`;
    const codeText = code !== undefined ? `${code}${sub !== undefined ? `/${sub}` : ''}` : String(res.status);
    if (res.status >= 500 || res.status === 429 || (code !== undefined && GRAPH_TRANSIENT.has(code))) {
      throw new DeliveryError('retry', text, codeText, { retryAfterMs: retryAfterMs(res.headers.get('retry-after') ?? undefined) });
    }
    // 190: the page token expired or was revoked; the operator can mend it.
    throw new DeliveryError('final', text, codeText, { retryable: code === 190 });
  }

  /** The Send API has no look-up by our id: the echo webhook (with our metadata) is what tells. */
  async reconcile(): Promise<'unknown'> {
    return 'unknown';
  }
}
