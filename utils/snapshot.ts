/** What the worker pushes to overlays and pages: the view of the state, nothing secret. */
import type { Identification } from './crm/types';
import type { ConnectionState } from './feed-client';
import type { SessionEntry } from './feed-state';
import type { Conversation } from './protocol/feed';
import type { ThemeSetting } from './storage-items';
import type { Template } from './templates';

export interface OfferView {
  offerId: string;
  conversation: Conversation;
  /** Local clock: when the offer closes. */
  deadline: number;
  /** Local clock: when it arrived; toasts show for template.timeoutSec from here. */
  receivedAt: number;
  template: Template;
  identification?: Identification;
  /** Already accepted for the agent (auto-accept): the card offers Open, not Accept / Reject. */
  autoAccepted?: true;
}

export interface StateSnapshot {
  theme: ThemeSetting;
  /** The catalogue of the language the admin chose; absent: the browser's language. */
  strings?: Record<string, string>;
  offers: OfferView[];
  /** The feed's clock minus the local one: a wait time is `now + skewMs − waitingSince`. */
  skewMs: number;
}

/** For extension pages only: whole sessions with their transcripts, and the feed connection. */
export interface PageSnapshot extends StateSnapshot {
  sessionDetails: SessionEntry[];
  identifications: Record<string, Identification>;
  connection: ConnectionState | null;
  /** CRM sites in the settings that lack their host permission. */
  sitesMissingPermission: string[];
}
