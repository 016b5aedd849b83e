/** What CRM adapters find, and how a customer came to be identified. */

export interface CrmContact {
  id: string;
  name: string;
  email?: string;
  phone?: string;
  /** Link to the contact in the CRM (http(s) only). */
  recordUrl?: string;
}

/**
 * How the customer of a conversation was identified:
 * - channel: nothing to look up; the name is what the channel sent;
 * - pending: a CRM lookup is under way (the alert shows meanwhile);
 * - matched / ambiguous / none: the CRM answered;
 * - unreadable: the number could not be read; unavailable: no CRM tab to ask;
 *   failed: the CRM failed or took too long.
 */
export type Identification =
  | { status: 'channel' }
  | { status: 'pending'; phone: string }
  | { status: 'matched'; phone: string; contact: CrmContact; picked?: boolean }
  | { status: 'ambiguous'; phone: string; candidates: CrmContact[] }
  | { status: 'none' | 'unreadable' | 'unavailable' | 'failed'; phone: string; message: string };
