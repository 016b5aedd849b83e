/**
 * Runtime messages between the extension's parts, as one typed map. Content
 * scripts and pages send; the worker answers. Payloads from content scripts
 * are untrusted (a compromised page renderer can forge them), so the worker
 * validates each with the schemas below before acting.
 */
import { defineExtensionMessaging } from '@webext-core/messaging';
import type { CrmRequest, CrmResponse } from './crm/api';

export type CommandResult = { ok: true } | { ok: false; error: string };

/**
 * Payload schemas live with the worker (entrypoints/background/commands.ts),
 * which checks every request; this module stays light for content scripts.
 */
export interface ProtocolMap {
  /** Takes the offer and opens the side panel on the sender's tab (a user gesture). */
  acceptOffer(data: { offerId: string }): CommandResult;
  rejectOffer(data: { offerId: string; reason?: string }): CommandResult;
  /** An agent message; `clientMsgId` makes a retry safe. */
  sendChatMessage(data: { conversationId: string; clientMsgId: string; text: string }): CommandResult;
  /** Sends again an SMS or Messenger reply whose delivery failed where retrying can help. */
  retryDelivery(data: { conversationId: string; messageId: string }): CommandResult;
  endConversation(data: { conversationId: string }): CommandResult;
  /** Removes an ended conversation from the side panel. */
  closeSession(data: { conversationId: string }): CommandResult;
  /** The agent chose which of several CRM contacts the customer is. */
  pickContact(data: { conversationId: string; contactId: string }): CommandResult;
  /** Looks contacts up by name in the conversation's CRM; the results become candidates to pick from. */
  searchContacts(data: { conversationId: string; text: string }): CommandResult;
  /** Creates a CRM contact for the customer (their number and address prefilled) and links it. */
  createContact(data: { conversationId: string; name: string }): CommandResult;
  /** Worker → the content script in a Dynamics 365 tab: one request to the org's Web API with the agent's session. */
  crmRequest(data: CrmRequest): CrmResponse | { error: string };
  /** Opens the side panel on a conversation that is the agent's: a toast selected, or Open. */
  openSession(data: { conversationId: string }): CommandResult;
  /** The agent closed a toast: it leaves every tab. */
  dismissNotice(data: { conversationId: string }): CommandResult;
  /** The agent's Sign in (popup, side panel): the provider's page opens; answers once signed in, or why not. */
  signIn(): CommandResult;
  /** The agent's Sign out: the sign-in is forgotten and the feed disconnects. */
  signOut(): CommandResult;
  /** Worker → offscreen document. */
  playSound(data: { sound: string; volume: number; loop: boolean }): void;
  stopSound(): void;
}

/** What the offscreen document reports about its audio, for diagnostics and tests. */
export interface SoundState {
  playing: boolean;
  sound?: string;
  loop?: boolean;
  volume?: number;
}

export const { sendMessage, onMessage } = defineExtensionMessaging<ProtocolMap>();

