/**
 * Validates what another part of the extension sent before the worker acts
 * on it: content scripts live in the page's process and are not trusted.
 */
import * as v from 'valibot';
import type { CommandResult } from '../../utils/messages';

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
export const OfferCommand = v.object({ offerId: Id });
export const RejectCommand = v.object({ offerId: Id, reason: v.optional(v.pipe(v.string(), v.maxLength(200))) });
export const ConversationCommand = v.object({ conversationId: Id });
/** Commands without data (sign in, sign out): whatever came along is ignored. */
export const NoPayload = v.unknown();
export const DeliveryCommand = v.object({ conversationId: Id, messageId: Id });
export const PickContactCommand = v.object({ conversationId: Id, contactId: Id });
export const SearchContactsCommand = v.object({ conversationId: Id, text: v.pipe(v.string(), v.trim(), v.minLength(2, 'Type at least two letters of the name.'), v.maxLength(100)) });
export const CreateContactCommand = v.object({ conversationId: Id, name: v.pipe(v.string(), v.trim(), v.minLength(1, 'The contact needs a name.'), v.maxLength(160)) });
export const ChatMessageCommand = v.object({
  conversationId: Id,
  clientMsgId: Id,
  text: v.pipe(v.string(), v.trim(), v.minLength(1, 'The message is empty.'), v.maxLength(8000, 'The message is longer than 8000 characters.')),
});

export interface Sender {
  tab?: { id?: number; windowId?: number };
  url?: string;
}

/** A content script's sender URL is its page's: only our own pages have our origin. */
export function isExtensionPage(sender: Sender, extensionOrigin: string): boolean {
  return !!sender.url?.startsWith(extensionOrigin);
}

/**
 * Wraps a handler so it only ever sees a valid payload. `handle` is called
 * synchronously when the payload is valid, so it can still use the user
 * gesture that came with the message (sidePanel.open) before its first await.
 */
export function commandHandler<S extends v.GenericSchema, R extends CommandResult>(
  schema: S,
  handle: (data: v.InferOutput<S>, sender: Sender) => R | Promise<R>,
  /**
   * Set for what only the extension's own pages do (chat, ending): a content
   * script runs in the page's renderer, and a compromised one must not talk
   * to customers. Unset for what the overlay's buttons do.
   */
  pagesOnly?: { extensionOrigin: string },
): (message: { data: unknown; sender?: Sender }) => Promise<R | CommandResult> {
  return (message) => {
    if (pagesOnly && !isExtensionPage(message.sender ?? {}, pagesOnly.extensionOrigin)) {
      return Promise.resolve({ ok: false, error: 'Refused: only Deskbell\'s own pages may ask this.' });
    }
    const parsed = v.safeParse(schema, message.data);
    if (!parsed.success) return Promise.resolve({ ok: false, error: `Refused a malformed request: ${v.summarize(parsed.issues)}` });
    return Promise.resolve(handle(parsed.output, message.sender ?? {}));
  };
}
