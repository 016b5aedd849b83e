/**
 * What the extension's pages (side panel, popup, options) need from the
 * worker, as one interface: the pushed view as a signal, and the commands.
 * Production talks over a runtime port and messages; tests pass a fake.
 */
import { type ReadonlySignal, signal } from '@preact/signals';
import { browser } from 'wxt/browser';
import { type CommandResult, sendMessage } from './messages';
import { onPortMessage, PAGE_PORT, type ToPage } from './ports';
import type { PageSnapshot } from './snapshot';

export interface BackgroundClient {
  readonly view: ReadonlySignal<PageSnapshot | null>;
  sendChatMessage(conversationId: string, clientMsgId: string, text: string): Promise<CommandResult>;
  retryDelivery(conversationId: string, messageId: string): Promise<CommandResult>;
  endConversation(conversationId: string): Promise<CommandResult>;
  closeSession(conversationId: string): Promise<CommandResult>;
  pickContact(conversationId: string, contactId: string): Promise<CommandResult>;
  searchContacts(conversationId: string, text: string): Promise<CommandResult>;
  createContact(conversationId: string, name: string): Promise<CommandResult>;
  signIn(): Promise<CommandResult>;
  signOut(): Promise<CommandResult>;
}

/** Turns a failed message into a result the UI can show. */
async function safely(call: () => Promise<CommandResult>): Promise<CommandResult> {
  try {
    return await call();
  } catch (error) {
    return { ok: false, error: `Deskbell's background worker did not answer (${(error as Error).message}).` };
  }
}

export function connectBackground(): BackgroundClient {
  const view = signal<PageSnapshot | null>(null);
  const connect = () => {
    const port = browser.runtime.connect({ name: PAGE_PORT });
    port.onMessage.addListener((message) => onPortMessage<ToPage>({ view: (m) => void (view.value = m.view) }, message));
    // The worker was stopped or restarted: reconnecting wakes it and it pushes the view again.
    port.onDisconnect.addListener(() => setTimeout(connect, 300));
  };
  connect();
  return {
    view,
    sendChatMessage: (conversationId, clientMsgId, text) => safely(() => sendMessage('sendChatMessage', { conversationId, clientMsgId, text })),
    retryDelivery: (conversationId, messageId) => safely(() => sendMessage('retryDelivery', { conversationId, messageId })),
    endConversation: (conversationId) => safely(() => sendMessage('endConversation', { conversationId })),
    closeSession: (conversationId) => safely(() => sendMessage('closeSession', { conversationId })),
    pickContact: (conversationId, contactId) => safely(() => sendMessage('pickContact', { conversationId, contactId })),
    searchContacts: (conversationId, text) => safely(() => sendMessage('searchContacts', { conversationId, text })),
    createContact: (conversationId, name) => safely(() => sendMessage('createContact', { conversationId, name })),
    signIn: () => safely(() => sendMessage('signIn', undefined)),
    signOut: () => safely(() => sendMessage('signOut', undefined)),
  };
}
