/**
 * Where agent replies go for channels the server does not host itself: an SMS
 * provider, the Messenger Send API. The default only logs; a provider sender
 * is configured with its endpoint and credentials. Sending never blocks or
 * fails the agent's message: a failure is logged and counted.
 */
import type { Logger } from '../logger.ts';

export interface OutboundMessage {
  channel: 'sms' | 'facebook';
  /** Phone number (E.164 as received) or Messenger page-scoped id. */
  to: string;
  text: string;
  conversationId: string;
}

export interface OutboundSender {
  send(message: OutboundMessage): Promise<void>;
}

export class LoggingSender implements OutboundSender {
  readonly sent: OutboundMessage[] = [];
  constructor(private readonly logger: Logger) {}
  async send(message: OutboundMessage): Promise<void> {
    this.sent.push(message);
    this.logger.info('outbound message (logging sender)', { channel: message.channel, to: message.to, conversation: message.conversationId });
  }
}

/** Posts form-encoded `To`, `From`, `Body` with basic auth, as common SMS provider REST APIs take them. */
export class SmsProviderSender implements OutboundSender {
  constructor(private readonly options: { url: string; accountSid: string; authToken: string; from: string }) {}
  async send(message: OutboundMessage): Promise<void> {
    const res = await fetch(this.options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${this.options.accountSid}:${this.options.authToken}`).toString('base64')}`,
      },
      body: new URLSearchParams({ To: message.to, From: this.options.from, Body: message.text }),
    });
    if (!res.ok) throw new Error(`SMS provider answered ${res.status}`);
  }
}

/** Messenger Send API: POST {recipient: {id}, message: {text}} with the page access token. */
export class MessengerSender implements OutboundSender {
  constructor(private readonly options: { url: string; pageAccessToken: string }) {}
  async send(message: OutboundMessage): Promise<void> {
    const url = `${this.options.url}?access_token=${encodeURIComponent(this.options.pageAccessToken)}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ recipient: { id: message.to }, messaging_type: 'RESPONSE', message: { text: message.text } }),
    });
    if (!res.ok) throw new Error(`Send API answered ${res.status}`);
  }
}

/** Sends through the sender for the message's channel. */
export class ChannelRouter implements OutboundSender {
  failures = 0;
  constructor(
    private readonly senders: Partial<Record<OutboundMessage['channel'], OutboundSender>>,
    private readonly logger: Logger,
  ) {}
  async send(message: OutboundMessage): Promise<void> {
    try {
      await this.senders[message.channel]?.send(message);
    } catch (error) {
      this.failures++;
      this.logger.warn('outbound message failed', { channel: message.channel, conversation: message.conversationId, error: String(error) });
    }
  }
}
