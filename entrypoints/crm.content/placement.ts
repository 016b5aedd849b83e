/**
 * Keeps the overlay's host where the agent can see and click it, whatever the
 * page does with the browser's top layer:
 *
 * - The host is a manual popover, shown in the top layer: above every
 *   z-index of the page, so the page adding elements never needs the host
 *   moved (moving it would restart what is on screen).
 * - A modal `<dialog>` makes everything outside it inert, popovers included,
 *   and a fullscreen element hides everything outside it: while one is up,
 *   the host moves inside it (a popover still, so drawn above it, and not
 *   inert there) and goes back to `<html>` when it closes.
 * - A newer top-layer element (the page's popover, dialog or fullscreen
 *   element) would cover the host: the host is shown again, on top.
 *
 * Where the host cannot go (a fullscreen `<video>` takes no children), the
 * card is not in view, and the worker falls back to desktop notifications.
 * A page that fights back gets 20 moves a second, not a loop.
 */

/** Elements that cannot hold the host (replaced or void elements). */
const CANNOT_HOLD = new Set(['video', 'audio', 'img', 'canvas', 'iframe', 'embed', 'object', 'input', 'textarea', 'select']);

export interface Placement {
  /** True while the host is where the agent can see it (the tab's own visibility aside). */
  readonly inView: boolean;
  /** Puts the host back in place if it is not; `above` also lifts it over a newer top-layer element. */
  place(above?: boolean): void;
  stop(): void;
}

export function keepInView(host: HTMLElement, onChange: () => void): Placement {
  const popover = typeof host.showPopover === 'function';
  if (popover) host.setAttribute('popover', 'manual');
  let inView = true;
  let started = false;
  let moves = 0;
  let movesSince = 0;

  /** Where the host must live: the topmost modal dialog or fullscreen element, else the root; null when it cannot be shown. */
  const target = (): Element | null => {
    const fullscreen = document.fullscreenElement;
    const modal = [...document.querySelectorAll('dialog')].filter((d) => d.matches(':modal')).at(-1);
    if (modal && (!fullscreen || fullscreen.contains(modal))) return modal;
    if (fullscreen) return CANNOT_HOLD.has(fullscreen.localName) ? null : fullscreen;
    return document.documentElement;
  };

  const shown = () => !popover || host.matches(':popover-open');

  const place = (above = false) => {
    const where = target();
    const wasInView = inView;
    inView = where !== null;
    const parent = where ?? document.documentElement;
    // Without the top layer (an old browser), the last child of <html> is painted over its siblings.
    const misplaced = host.parentNode !== parent || (!popover && document.documentElement.lastElementChild !== host);
    if (misplaced || above || !shown()) {
      const now = performance.now();
      if (now - movesSince > 1000) [moves, movesSince] = [0, now];
      if (++moves <= 20) {
        if (misplaced) parent.append(host);
        if (popover) {
          try {
            if (host.matches(':popover-open')) host.hidePopover();
            host.showPopover();
          } catch {
            // Not connected, or the page's own popover is mid-toggle: the next change puts it right.
          }
        }
      }
    }
    if (started && inView !== wasInView) onChange();
  };

  // Removed by the page: put back.
  const children = new MutationObserver(() => place());
  children.observe(document.documentElement, { childList: true });
  // A dialog opened or closed (modal or not: only a modal one moves the host).
  const dialogs = new MutationObserver((records) => {
    if (records.some((r) => r.target instanceof HTMLDialogElement)) place(true);
  });
  dialogs.observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ['open'] });
  // The page showed a popover of its own; a fullscreen element came or went.
  const onToggle = (e: Event) => {
    if (e.target !== host && (e as ToggleEvent).newState === 'open') place(true);
  };
  const onFullscreen = () => place(true);
  document.addEventListener('toggle', onToggle, true);
  document.addEventListener('fullscreenchange', onFullscreen);
  place();
  started = true;

  return {
    get inView() {
      return inView;
    },
    place,
    stop() {
      children.disconnect();
      dialogs.disconnect();
      document.removeEventListener('toggle', onToggle, true);
      document.removeEventListener('fullscreenchange', onFullscreen);
    },
  };
}
