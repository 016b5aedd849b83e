/**
 * A stand-in for Twilio's Messages API on 127.0.0.1, for tests: the official
 * `twilio` library talks to it as it would to api.twilio.com. It checks what
 * Twilio checks (the account path, basic auth with the account's token or an
 * API key, the form fields and their shapes), answers with Twilio's resource
 * and error bodies, and calls the status callback signed as Twilio signs it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyOf, FakeEndpoint, type Hold } from './fake-endpoint.ts';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';

export interface FakeTwilioMessage {
  sid: string;
  accountSid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
  status: string;
  dateCreated: Date;
}

/** What the fake does with the next create request. */
export type Behaviour =
  | { kind: 'error'; status: number; code: number; message: string; retryAfterSec?: number }
  /** Never answers: the request is held (the server dies, or times out). `created` says whether Twilio had taken it. */
  | Hold;

export interface FakeTwilioOptions {
  accountSid: string;
  /** The account's auth token: signs status callbacks, and opens the API. */
  authToken: string;
  /** An API key that also opens the API. */
  apiKey?: { sid: string; secret: string };
}

const E164 = /^\+[1-9]\d{6,14}$/;

export class FakeTwilio extends FakeEndpoint<Behaviour> {
  readonly messages: FakeTwilioMessage[] = [];
  /** Every request as it came: method, path, the auth user, form fields. */
  readonly requests: { method: string; path: string; user: string; fields: Record<string, string> }[] = [];

  constructor(readonly options: FakeTwilioOptions) {
    super();
  }


  /** Reports a message's status to its StatusCallback, signed with the auth token. */
  async callback(sid: string, status: string, errorCode?: string): Promise<number> {
    const message = this.messages.find((m) => m.sid === sid);
    if (!message?.statusCallback) throw new Error(`no message ${sid} with a status callback`);
    message.status = status;
    const fields: Record<string, string> = {
      AccountSid: message.accountSid,
      MessageSid: sid,
      SmsSid: sid,
      MessageStatus: status,
      SmsStatus: status,
      To: message.to,
      From: message.from ?? '+3197010000000',
      ApiVersion: '2010-04-01',
      ...(errorCode ? { ErrorCode: errorCode } : {}),
    };
    const res = await fetch(message.statusCallback.replace(/^https:\/\/[^/]+/, this.callbackBase ?? ''), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': getExpectedTwilioSignature(this.options.authToken, message.statusCallback, fields),
      },
      body: new URLSearchParams(fields),
    });
    return res.status;
  }

  /** Where callbacks really go (the test's server), when the StatusCallback names its public address. */
  callbackBase: string | undefined;

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await bodyOf(req);
    const url = new URL(req.url ?? '/', this.url);
    const fields = Object.fromEntries(new URLSearchParams(req.method === 'GET' ? url.search : raw));
    const user = this.#user(req);
    this.requests.push({ method: req.method ?? '', path: url.pathname, user: user ?? '', fields });
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void =>
      void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const error = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
      json(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }, headers);

    if (user === undefined) return error(401, 20003, 'Authenticate');
    const path = `/2010-04-01/Accounts/${this.options.accountSid}/Messages.json`;
    if (url.pathname !== path) return error(404, 20404, `The requested resource ${url.pathname} was not found`);

    if (req.method === 'GET') {
      // The list, newest first, filtered as Twilio filters it.
      const list = this.messages
        .filter((m) => (!fields.To || m.to === fields.To) && (!fields.From || m.from === fields.From))
        .slice()
        .reverse()
        .slice(0, Number(fields.PageSize ?? 50));
      return json(200, { messages: list.map((m) => this.#resource(m)), next_page_uri: null, page: 0, page_size: list.length, uri: path });
    }
    if (req.method !== 'POST') return error(405, 20004, 'Method not allowed');
    if (!req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) return error(400, 20001, 'Content-Type must be form-encoded');
    if (!fields.To || !E164.test(fields.To)) return error(400, 21211, `The 'To' number ${fields.To ?? ''} is not a valid phone number.`);
    if (!fields.From && !fields.MessagingServiceSid) return error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.");
    if (fields.From && !E164.test(fields.From)) return error(400, 21212, `The 'From' number ${fields.From} is not a valid phone number, shortcode, or alphanumeric sender ID.`);
    if (fields.MessagingServiceSid && !/^MG[0-9a-f]{32}$/.test(fields.MessagingServiceSid)) return error(400, 21701, 'The Messaging Service Sid is invalid.');
    if (!fields.Body && !fields.MediaUrl) return error(400, 21602, 'Message body is required.');
    if ((fields.Body ?? '').length > 1600) return error(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    if (fields.StatusCallback && !/^https?:\/\//.test(fields.StatusCallback)) return error(400, 21609, 'Invalid StatusCallback URL');

    const behaviour = this.next();
    if (behaviour?.kind === 'error') {
      return error(behaviour.status, behaviour.code, behaviour.message, behaviour.retryAfterSec !== undefined ? { 'retry-after': String(behaviour.retryAfterSec) } : {});
    }
    const message: FakeTwilioMessage = {
      sid: `SM${randomBytes(16).toString('hex')}`,
      accountSid: this.options.accountSid,
      to: fields.To,
      from: fields.From ?? (fields.MessagingServiceSid ? '+3197010000000' : null),
      messagingServiceSid: fields.MessagingServiceSid ?? null,
      body: fields.Body ?? '',
      statusCallback: fields.StatusCallback ?? null,
      status: 'queued',
      dateCreated: new Date(),
    };
    if (behaviour?.kind === 'hold') {
      if (behaviour.created) this.messages.push(message);
      this.hold(res);
      return;
    }
    this.messages.push(message);
    json(201, this.#resource(message));
  }

  /** The basic-auth user if the password is right for it; undefined otherwise. */
  #user(req: IncomingMessage): string | undefined {
    const match = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (!match) return undefined;
    const [user, password] = Buffer.from(match[1]!, 'base64').toString('utf8').split(':');
    if (user === this.options.accountSid && password === this.options.authToken) return user;
    if (this.options.apiKey && user === this.options.apiKey.sid && password === this.options.apiKey.secret) return user;
    return undefined;
  }

  #resource(m: FakeTwilioMessage) {
    return {
      sid: m.sid,
      account_sid: m.accountSid,
      to: m.to,
      from: m.from,
      messaging_service_sid: m.messagingServiceSid,
      body: m.body,
      status: m.status,
      direction: 'outbound-api',
      num_segments: '1',
      date_created: m.dateCreated.toUTCString(),
      date_updated: m.dateCreated.toUTCString(),
      date_sent: null,
      api_version: '2010-04-01',
      uri: `/2010-04-01/Accounts/${m.accountSid}/Messages/${m.sid}.json`,
    };
  }
}
