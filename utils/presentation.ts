/**
 * The one place that decides how an offer or an assignment shows. The worker
 * calls `present` once, when the event arrives, and stores the answer with
 * the entry; every view (the overlay in each tab, the badge, the popup,
 * shortcuts, desktop notifications, the ringtone) reads that answer and
 * decides nothing again.
 *
 * Whether the agent may refuse is not the template's call: the feed offers a
 * conversation (an `offer` event: an alert with Accept / Reject and a
 * countdown) or assigns it (an `assigned` event: a toast about work that is
 * already the agent's, which opens the session when selected). The template
 * chooses how that looks and sounds, and for how long.
 */
import type { Scenario } from '../protocol/feed';
import { type DESKTOP_POLICIES, type SOUNDS, type Template, templateFor, type TemplateOverrides } from './templates';

export type CardKind = 'alert' | 'toast';

export interface Presentation {
  kind: CardKind;
  /** The template in force when it arrived: labels, fields, reject reasons. A later settings change leaves it be. */
  template: Template;
  /**
   * Local clock: when the card leaves the screen. For an alert, the feed's
   * deadline may come first; the worker keeps the earlier of the two as the
   * offer's deadline and tells the feed when its own comes first.
   */
  showUntil: number;
  /** Alerts ring until answered; toasts ring once. */
  sound: { name: (typeof SOUNDS)[number]; volume: number; loop: boolean } | null;
  desktop: (typeof DESKTOP_POLICIES)[number];
}

export function present(scenario: Scenario, kind: CardKind, templates: TemplateOverrides, now: number): Presentation {
  const template = templateFor(scenario, templates);
  return {
    kind,
    template,
    showUntil: now + template.timeoutSec * 1000,
    sound: template.sound && template.volume > 0 ? { name: template.soundName, volume: template.volume, loop: kind === 'alert' } : null,
    desktop: template.desktop,
  };
}

/** What `applyEvent` asks when an event arrives; the worker closes it over the settings in force. */
export type Presenter = (scenario: Scenario, kind: CardKind, now: number) => Presentation;

/** The defaults alone, for tests and for a worker whose settings are not loaded yet. */
export const defaultPresenter: Presenter = (scenario, kind, now) => present(scenario, kind, {}, now);

/**
 * How long a card of this scenario really stays up, given the feed's routing:
 * an offer ends at the feed's deadline if the template allows more; a toast
 * shows for the template's time. For the options page.
 */
export function effectiveSeconds(template: Template, routing: { mode: 'offer' | 'assign'; offerTimeoutSec: number } | undefined): number {
  if (!routing || routing.mode === 'assign') return template.timeoutSec;
  return Math.min(template.timeoutSec, routing.offerTimeoutSec);
}
