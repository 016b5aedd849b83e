/**
 * The overlay's state: what the worker last pushed, the clock that drives the
 * countdowns, and what this tab alone knows (a request in flight, an error to
 * show, a toast the agent closed). The overlay renders this and keeps nothing
 * else; the offers themselves belong to the worker.
 */
import { computed, signal } from '@preact/signals';
import type { CommandResult } from './messages';
import type { OfferView, StateSnapshot } from './snapshot';

export interface OverlayActions {
  accept(offerId: string): Promise<CommandResult>;
  reject(offerId: string, reason?: string): Promise<CommandResult>;
  /** Opens an auto-accepted conversation in the side panel. */
  open(offerId: string): Promise<CommandResult>;
}

/** Cards shown before the rest fold into "+N more". */
export const MAX_VISIBLE = 3;

export function createOverlayModel(actions: OverlayActions, clock: () => number = Date.now) {
  const snapshot = signal<StateSnapshot | null>(null);
  const now = signal(clock());
  const busy = signal<ReadonlySet<string>>(new Set());
  const errors = signal<Readonly<Record<string, string>>>({});
  const dismissed = signal<ReadonlySet<string>>(new Set());
  const expanded = signal(false);
  /** Offers whose Reject button was pressed and whose reasons are showing. */
  const choosing = signal<ReadonlySet<string>>(new Set());

  /** Offers still up in this tab: alerts until their deadline, toasts for their time. */
  const offers = computed<OfferView[]>(() => {
    const t = now.value;
    return (snapshot.value?.offers ?? []).filter((o) =>
      o.template.kind === 'toast'
        ? !dismissed.value.has(o.offerId) && t < Math.min(o.deadline, o.receivedAt + o.template.timeoutSec * 1000)
        : t < o.deadline,
    );
  });
  const shown = computed(() => (expanded.value ? offers.value : offers.value.slice(0, MAX_VISIBLE)));
  const hiddenCount = computed(() => offers.value.length - shown.value.length);

  const setBusy = (id: string, on: boolean) => {
    const next = new Set(busy.value);
    if (on) next.add(id);
    else next.delete(id);
    busy.value = next;
  };

  async function act(offerId: string, action: (id: string) => Promise<CommandResult>): Promise<void> {
    if (busy.value.has(offerId)) return;
    setBusy(offerId, true);
    const { [offerId]: _cleared, ...rest } = errors.value;
    errors.value = rest;
    let result: CommandResult;
    try {
      result = await action(offerId);
    } catch (error) {
      result = { ok: false, error: `Deskbell could not reach its background worker (${(error as Error).message}).` };
    }
    setBusy(offerId, false);
    if (!result.ok) errors.value = { ...errors.value, [offerId]: result.error };
  }

  return {
    snapshot,
    now,
    busy,
    errors,
    expanded,
    offers,
    shown,
    hiddenCount,
    tick: () => void (now.value = clock()),
    receive: (next: StateSnapshot) => {
      snapshot.value = next;
      now.value = clock();
    },
    choosing,
    accept: (offerId: string) => act(offerId, actions.accept),
    open: (offerId: string) => act(offerId, actions.open),
    /** Rejects at once, or first shows the template's reasons to pick from. */
    reject(offerId: string, reasons: readonly string[] = [], reason?: string): Promise<void> {
      if (reasons.length > 0 && reason === undefined) {
        choosing.value = new Set(choosing.value).add(offerId);
        return Promise.resolve();
      }
      return act(offerId, (id) => actions.reject(id, reason));
    },
    cancelReject: (offerId: string) => {
      const next = new Set(choosing.value);
      next.delete(offerId);
      choosing.value = next;
    },
    dismiss: (offerId: string) => void (dismissed.value = new Set(dismissed.value).add(offerId)),
  };
}

export type OverlayModel = ReturnType<typeof createOverlayModel>;
