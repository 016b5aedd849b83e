/**
 * The side panel's own state: which session is shown, each session's draft,
 * and messages on their way (sending / failed) until the feed echoes them.
 * Sessions themselves come from the worker through the BackgroundClient.
 */
import { computed, effect, signal } from '@preact/signals';
import type { BackgroundClient } from './background-client';
import { isOffline } from './connection';
import type { SessionEntry } from './state';

export interface OutgoingMessage {
  clientMsgId: string;
  conversationId: string;
  text: string;
  status: 'sending' | 'failed';
  error?: string;
  at: number;
}

/** How long to wait for the feed's echo before calling a send failed. */
export const SEND_TIMEOUT_MS = 10_000;

export function createSidePanelModel(client: BackgroundClient, options: { now?: () => number; newId?: () => string } = {}) {
  const now = options.now ?? Date.now;
  const newId = options.newId ?? (() => crypto.randomUUID());
  const selectedId = signal<string | null>(null);
  const drafts = signal<Readonly<Record<string, string>>>({});
  const outgoing = signal<readonly OutgoingMessage[]>([]);
  const notice = signal<string | null>(null);
  const timers = new Map<string, ReturnType<typeof setTimeout>>();

  const sessions = computed<SessionEntry[]>(() => client.view.value?.sessionDetails ?? []);
  const selected = computed(() => sessions.value.find((s) => s.conversationId === selectedId.value) ?? sessions.value.at(-1) ?? null);

  // The newest session takes the focus when it arrives.
  let known = new Set<string>();
  effect(() => {
    const ids = sessions.value.map((s) => s.conversationId);
    const arrived = ids.filter((id) => !known.has(id));
    if (arrived.length > 0 && known.size + arrived.length === ids.length) selectedId.value = arrived.at(-1)!;
    known = new Set(ids);
  });

  // The agent asked for a session elsewhere (a toast selected, Open): show it.
  let focusedAt = 0;
  effect(() => {
    const focus = client.view.value?.focus;
    if (!focus || focus.at === focusedAt) return;
    focusedAt = focus.at;
    if (sessions.value.some((s) => s.conversationId === focus.conversationId)) selectedId.value = focus.conversationId;
  });

  // An echoed message replaces its pending copy.
  effect(() => {
    const echoed = new Set(sessions.value.flatMap((s) => s.transcript.flatMap((m) => (m.clientMsgId ? [m.clientMsgId] : []))));
    const still = outgoing.value.filter((m) => !echoed.has(m.clientMsgId));
    if (still.length !== outgoing.value.length) {
      for (const m of outgoing.value) if (echoed.has(m.clientMsgId)) clearTimeout(timers.get(m.clientMsgId));
      outgoing.value = still;
    }
  });

  const update = (clientMsgId: string, change: Partial<OutgoingMessage>) => {
    outgoing.value = outgoing.value.map((m) => (m.clientMsgId === clientMsgId ? { ...m, ...change } : m));
  };

  async function transmit(message: OutgoingMessage): Promise<void> {
    clearTimeout(timers.get(message.clientMsgId));
    timers.set(
      message.clientMsgId,
      setTimeout(() => {
        if (outgoing.value.some((m) => m.clientMsgId === message.clientMsgId && m.status === 'sending')) {
          update(message.clientMsgId, { status: 'failed', error: 'No answer from the conversation feed.' });
        }
      }, SEND_TIMEOUT_MS),
    );
    const result = await client.sendChatMessage(message.conversationId, message.clientMsgId, message.text);
    if (!result.ok) update(message.clientMsgId, { status: 'failed', error: result.error });
  }

  return {
    sessions,
    selected,
    identification: (conversationId: string) => client.view.value?.identifications[conversationId],
    /** The agent's sign-in (null: the feed takes a static token), and the agent's Sign in / Sign out. */
    signIn: computed(() => client.view.value?.signIn ?? null),
    startSignIn: () => client.signIn(),
    signOut: () => client.signOut(),
    /** Not connected to the feed: customer messages wait on the feed until it is back. */
    offline: computed(() => isOffline(client.view.value?.connection)),
    /** The feed's clock minus the local one, for times the feed gave (waitingSince). */
    skewMs: () => client.view.value?.skewMs ?? 0,
    writeBack: (conversationId: string) => client.view.value?.writeBacks?.[conversationId],
    async pick(conversationId: string, contactId: string): Promise<void> {
      const result = await client.pickContact(conversationId, contactId);
      notice.value = result.ok ? null : result.error;
    },
    /** Searches the CRM by name; the results replace the candidates (the reason in `notice` when nothing came of it). */
    async search(conversationId: string, text: string): Promise<void> {
      const result = await client.searchContacts(conversationId, text);
      notice.value = result.ok ? null : result.error;
    },
    async createContact(conversationId: string, name: string): Promise<void> {
      const result = await client.createContact(conversationId, name);
      notice.value = result.ok ? null : result.error;
    },
    drafts,
    outgoing,
    notice,
    select: (conversationId: string) => void (selectedId.value = conversationId),
    setDraft: (conversationId: string, text: string) => void (drafts.value = { ...drafts.value, [conversationId]: text }),
    /** Sends the draft of a session; the draft clears at once, the message shows as sending. */
    send(conversationId: string): void {
      const text = (drafts.value[conversationId] ?? '').trim();
      if (!text) return;
      const message: OutgoingMessage = { clientMsgId: newId(), conversationId, text, status: 'sending', at: now() };
      outgoing.value = [...outgoing.value, message];
      drafts.value = { ...drafts.value, [conversationId]: '' };
      void transmit(message);
    },
    /** Sends a failed message again with the same client id: the feed stores it once. */
    retry(clientMsgId: string): void {
      const message = outgoing.value.find((m) => m.clientMsgId === clientMsgId);
      if (!message) return;
      update(clientMsgId, { status: 'sending', error: undefined });
      void transmit({ ...message, status: 'sending' });
    },
    /** Sends again a reply the provider did not deliver (SMS, Messenger), where the feed says retrying can help. */
    async retryDelivery(conversationId: string, messageId: string): Promise<void> {
      const result = await client.retryDelivery(conversationId, messageId);
      notice.value = result.ok ? null : result.error;
    },
    async end(conversationId: string): Promise<void> {
      const result = await client.endConversation(conversationId);
      notice.value = result.ok ? null : result.error;
    },
    async close(conversationId: string): Promise<void> {
      const result = await client.closeSession(conversationId);
      notice.value = result.ok ? null : result.error;
      if (result.ok && selectedId.value === conversationId) selectedId.value = null;
    },
  };
}

export type SidePanelModel = ReturnType<typeof createSidePanelModel>;
