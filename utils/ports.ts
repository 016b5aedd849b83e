/**
 * Messages on the runtime ports between the worker and the other parts, as
 * discriminated unions, one per direction of each port. Senders build them
 * with the helpers below; receivers dispatch them through `onPortMessage`,
 * whose handler map must name every type of its union exactly once (the
 * compiler checks it, and a meta-test checks each map at run time), so no
 * receiving end casts.
 *
 * Kept free of valibot: content scripts import it. What the worker receives
 * from a content script is checked in full by `readPortMessage`.
 */
import type { SoundState } from './messages';
import type { PageSnapshot, StateSnapshot } from './snapshot';

/** Port each overlay opens to receive its view (cards, theme). */
export const STATE_PORT = 'deskbell-state';
/** Port extension pages open to receive the view plus whole sessions; refused to content scripts. */
export const PAGE_PORT = 'deskbell-page';
/** Port the offscreen document keeps open, so the worker knows when it is gone. */
export const OFFSCREEN_PORT = 'deskbell-offscreen';

/** Worker → overlay. */
export type ToOverlay =
  | { type: 'view'; view: StateSnapshot }
  /** Deskbell has no access to this tab's site (any more): the overlay removes itself. */
  | { type: 'leave' }
  /** A reject that needs a reason came from a shortcut or a notification: the card shows its reasons. */
  | { type: 'chooseReason'; offerId: string }
  /** The agent pressed the focus shortcut in this tab: the newest card takes the keyboard focus. */
  | { type: 'focusCards' };

/** Overlay → worker. */
export type FromOverlay = { type: 'visibility'; visible: boolean };

/** Worker → extension page. */
export type ToPage = { type: 'view'; view: PageSnapshot };

/** Offscreen document → worker. */
export type FromOffscreen = { type: 'sound'; state: SoundState };

export type PortMessage = ToOverlay | FromOverlay | ToPage | FromOffscreen;

/** Every type of each union, for the meta-test and for `readPortMessage`. */
export const PORT_MESSAGE_TYPES = {
  toOverlay: ['view', 'leave', 'chooseReason', 'focusCards'],
  fromOverlay: ['visibility'],
  toPage: ['view'],
  fromOffscreen: ['sound'],
} as const satisfies Record<string, readonly PortMessage['type'][]>;

/** The lists above name every type of their union, no more and no less (checked by the compiler). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const PORT_TYPES_COMPLETE: [
  Same<(typeof PORT_MESSAGE_TYPES.toOverlay)[number], ToOverlay['type']>,
  Same<(typeof PORT_MESSAGE_TYPES.fromOverlay)[number], FromOverlay['type']>,
  Same<(typeof PORT_MESSAGE_TYPES.toPage)[number], ToPage['type']>,
  Same<(typeof PORT_MESSAGE_TYPES.fromOffscreen)[number], FromOffscreen['type']>,
] = [true, true, true, true];

export type Handlers<M extends { type: string }> = { [K in M['type']]: (message: Extract<M, { type: K }>) => void };

/**
 * Hands a message to the handler of its type. A message of no known type, or
 * not an object, is dropped (and reported), never thrown on.
 */
export function onPortMessage<M extends { type: string }>(handlers: Handlers<M>, message: unknown): void {
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !Object.hasOwn(handlers, type)) {
    console.warn('[deskbell] dropped a port message of no known type:', type);
    return;
  }
  (handlers[type as M['type']] as (m: M) => void)(message as M);
}

/**
 * What an overlay sent, checked field by field (a content script lives in the
 * page's renderer, which may be compromised); undefined when it is not a
 * well-formed `FromOverlay`.
 */
export function readOverlayMessage(message: unknown): FromOverlay | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  if (m.type === 'visibility' && typeof m.visible === 'boolean' && Object.keys(m).length === 2) return { type: 'visibility', visible: m.visible };
  return undefined;
}
