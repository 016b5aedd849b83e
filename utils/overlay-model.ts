/**
 * The overlay's state: what the worker last pushed, the clock that drives the
 * countdowns, and what this tab alone knows (a request in flight, an error to
 * show, reasons being picked). The overlay renders this and keeps nothing
 * else: the cards, and how each shows, belong to the worker.
 */
import { computed, signal } from '@preact/signals';
import type { CommandResult } from './messages';
import type { CardView, StateSnapshot } from './snapshot';

export interface OverlayActions {
  accept(offerId: string): Promise<CommandResult>;
  reject(offerId: string, reason?: string): Promise<CommandResult>;
  /** Opens a conversation that is the agent's (a toast) in the side panel. */
  open(conversationId: string): Promise<CommandResult>;
  /** Closes a toast in every tab. */
  dismiss(conversationId: string): Promise<CommandResult>;
}

/** Cards shown before the rest fold into "+N more". */
export const MAX_VISIBLE = 3;

/** What the overlay says to screen readers; the words come from the view (i18n), the timing from the model. */
export interface Announcer {
  /** A card the agent has not been told of: said once, when it arrives (never on countdown ticks). */
  arrived(card: CardView, now: number): string;
  /** The agent's answer went through. */
  done(card: CardView, what: 'accepted' | 'rejected' | 'opened' | 'dismissed'): string;
}

export function createOverlayModel(actions: OverlayActions, clock: () => number = Date.now, announcer?: Announcer) {
  const snapshot = signal<StateSnapshot | null>(null);
  const now = signal(clock());
  const busy = signal<ReadonlySet<string>>(new Set());
  const errors = signal<Readonly<Record<string, string>>>({});
  const expanded = signal(false);
  /** Offers whose Reject button was pressed and whose reasons are showing. */
  const choosing = signal<ReadonlySet<string>>(new Set());
  /** The polite live region's text: each card once on arrival, each answer once done. */
  const announcement = signal('');
  /** Cards already announced (the worker re-sends every card with each change). */
  const announced = new Set<string>();
  /** Bumped by the focus shortcut: the view moves the keyboard to the newest card. */
  const focusRequest = signal(0);

  /**
   * Cards still up: each until the time the worker gave it. A tick that ends
   * no card gives the same array, so what lists the cards does not render
   * again each second (only the countdowns and wait times move).
   */
  let up: CardView[] = [];
  const cards = computed<CardView[]>(() => {
    const t = now.value;
    const next = (snapshot.value?.cards ?? []).filter((c) => t < c.showUntil);
    if (next.length !== up.length || next.some((c, i) => c !== up[i])) up = next;
    return up;
  });
  const shown = computed(() => (expanded.value ? cards.value : cards.value.slice(0, MAX_VISIBLE)));
  const hiddenCount = computed(() => cards.value.length - shown.value.length);

  const setBusy = (id: string, on: boolean) => {
    const next = new Set(busy.value);
    if (on) next.add(id);
    else next.delete(id);
    busy.value = next;
  };

  /** Runs a card's command once at a time; a failure shows on that card (role=alert), a success is announced. */
  async function act(cardId: string, action: () => Promise<CommandResult>, what?: 'accepted' | 'rejected' | 'opened' | 'dismissed'): Promise<void> {
    const card = cards.value.find((c) => c.id === cardId || c.offerId === cardId);
    if (busy.value.has(cardId)) return;
    setBusy(cardId, true);
    const { [cardId]: _cleared, ...rest } = errors.value;
    errors.value = rest;
    let result: CommandResult;
    try {
      result = await action();
    } catch (error) {
      result = { ok: false, error: `Deskbell could not reach its background worker (${(error as Error).message}).` };
    }
    setBusy(cardId, false);
    if (!result.ok) errors.value = { ...errors.value, [cardId]: result.error };
    else if (card && what && announcer) announcement.value = announcer.done(card, what);
  }

  return {
    snapshot,
    now,
    busy,
    errors,
    expanded,
    cards,
    shown,
    hiddenCount,
    tick: () => void (now.value = clock()),
    receive: (next: StateSnapshot) => {
      snapshot.value = next;
      now.value = clock();
      const fresh = next.cards.filter((c) => !announced.has(c.id) && now.value < c.showUntil);
      for (const c of fresh) announced.add(c.id);
      if (fresh.length > 0 && announcer) announcement.value = fresh.map((c) => announcer.arrived(c, now.value)).join(' ');
    },
    announcement,
    focusRequest,
    requestFocus: () => void focusRequest.value++,
    choosing,
    accept: (offerId: string) => act(offerId, () => actions.accept(offerId), 'accepted'),
    open: (conversationId: string) => act(conversationId, () => actions.open(conversationId), 'opened'),
    dismiss: (conversationId: string) => act(conversationId, () => actions.dismiss(conversationId), 'dismissed'),
    /** Rejects at once, or first shows the template's reasons to pick from. */
    reject(offerId: string, reasons: readonly string[] = [], reason?: string): Promise<void> {
      if (reasons.length > 0 && reason === undefined) {
        choosing.value = new Set(choosing.value).add(offerId);
        return Promise.resolve();
      }
      return act(offerId, () => actions.reject(offerId, reason), 'rejected');
    },
    /** Shows an offer's reasons (the agent rejected it from a shortcut or a notification). */
    chooseReason: (offerId: string) => void (choosing.value = new Set(choosing.value).add(offerId)),
    cancelReject: (offerId: string) => {
      const next = new Set(choosing.value);
      next.delete(offerId);
      choosing.value = next;
    },
  };
}

export type OverlayModel = ReturnType<typeof createOverlayModel>;
