/**
 * What the side panel asks of a conversation that is the agent's: send a
 * message, end it, close it once ended, pick which CRM contact the customer
 * is. Answered only for the extension's own pages (index.ts wires them so).
 */
import { t } from '../../utils/i18n';
import type { CommandResult } from '../../utils/messages';
import { closeSession, type FeedState, pickContact } from './feed-state';
import type { FeedSender } from './offer-actions';
import type { StateKeeper } from './state-keeper';

/** How long a page waits to hear whether the feed took a command; after that the page's own timer speaks. */
const ANSWER_WAIT_MS = 8_000;

interface Waiting {
  done(state: FeedState): boolean;
  resolve(result: CommandResult): void;
  timer: ReturnType<typeof setTimeout>;
}

export class SessionActions {
  /** Commands the feed has not answered yet, by the id its error frame would name (`ref`). */
  readonly #waiting = new Map<string, Waiting>();

  constructor(
    private readonly keeper: StateKeeper,
    private readonly feed: FeedSender,
  ) {}

  /** Resolves once the feed echoed the message, or with the feed's reason when it refused it (too long, window closed). */
  async send(conversationId: string, clientMsgId: string, text: string): Promise<CommandResult> {
    await this.keeper.ready;
    const session = this.keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_not_open') };
    if (session.endedBy) return { ok: false, error: t('error_ended') };
    if (!this.feed.send({ type: 'send', conversationId, clientMsgId, text })) return { ok: false, error: t('error_not_connected') };
    return this.#answer(clientMsgId, (s) => !!s.sessions[conversationId]?.transcript.some((m) => m.clientMsgId === clientMsgId));
  }

  /** The agent's Retry of a reply the provider did not deliver, where retrying can help. */
  async retryDelivery(conversationId: string, messageId: string): Promise<CommandResult> {
    await this.keeper.ready;
    const session = this.keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_not_open') };
    const message = session.transcript.find((m) => m.id === messageId);
    if (message?.delivery?.status !== 'failed' || !message.delivery.retryable) return { ok: false, error: t('error_cannot_retry') };
    if (!this.feed.send({ type: 'retry-delivery', conversationId, messageId })) return { ok: false, error: t('error_not_connected') };
    return this.#answer(messageId, (s) => s.sessions[conversationId]?.transcript.find((m) => m.id === messageId)?.delivery?.status !== 'failed');
  }

  /** The feed refused a command: the page waiting on it hears the feed's reason. */
  commandFailed(frame: { message: string; ref?: string | undefined }): void {
    const waiting = frame.ref ? this.#waiting.get(frame.ref) : undefined;
    if (!waiting) return;
    this.#settle(frame.ref!, { ok: false, error: frame.message });
  }

  /** After each change of the state: commands it shows taken are answered. */
  stateChanged(state: FeedState): void {
    for (const [ref, waiting] of this.#waiting) if (waiting.done(state)) this.#settle(ref, { ok: true });
  }

  #answer(ref: string, done: (state: FeedState) => boolean): Promise<CommandResult> {
    this.#settle(ref, { ok: true });
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(ref, { ok: true }), ANSWER_WAIT_MS);
      this.#waiting.set(ref, { done, resolve, timer });
    });
  }

  #settle(ref: string, result: CommandResult): void {
    const waiting = this.#waiting.get(ref);
    if (!waiting) return;
    this.#waiting.delete(ref);
    clearTimeout(waiting.timer);
    waiting.resolve(result);
  }

  async end(conversationId: string): Promise<CommandResult> {
    await this.keeper.ready;
    const session = this.keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_not_open') };
    if (session.endedBy) return { ok: true };
    return this.feed.send({ type: 'end', conversationId }) ? { ok: true } : { ok: false, error: t('error_not_connected') };
  }

  async close(conversationId: string): Promise<CommandResult> {
    await this.keeper.ready;
    if (!this.keeper.state.sessions[conversationId]?.endedBy) return { ok: false, error: t('error_end_first') };
    await this.keeper.update((s) => closeSession(s, conversationId));
    return { ok: true };
  }

  async pickContact(conversationId: string, contactId: string): Promise<CommandResult> {
    await this.keeper.ready;
    const next = await this.keeper.update((s) => pickContact(s, conversationId, contactId));
    return next.identifications[conversationId]?.status === 'matched' ? { ok: true } : { ok: false, error: t('error_not_a_match') };
  }
}
