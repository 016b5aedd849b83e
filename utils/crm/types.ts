/** What CRM adapters find, and how a customer came to be identified. */

export const CRM_IDS = ['dynamics365', 'salesforce'] as const;
export type CrmId = (typeof CRM_IDS)[number];

/** One CRM org the agent is signed in to: which CRM, and the origin of its pages. */
export interface CrmOrg {
  crm: CrmId;
  origin: string;
}

/** Which of the contact's fields made it the customer. */
export type MatchedBy = 'mobile' | 'business' | 'home' | 'phone' | 'email' | 'crm-id' | 'picked' | 'created';

export interface CrmContact {
  id: string;
  name: string;
  email?: string;
  phone?: string;
  /** The field of the contact that matched the customer's number or address. */
  matchedBy?: MatchedBy;
  /** Link to the contact in the CRM (http(s) only). */
  recordUrl?: string;
}

export interface CrmCase {
  id: string;
  number?: string;
  title: string;
  status: string;
  createdOn?: string;
  url?: string;
}

export interface CrmActivity {
  id: string;
  subject: string;
  kind?: string;
  due?: string;
}

/** What the summary shows about a known contact, beyond its name. */
export interface CrmDetails {
  jobTitle?: string;
  account?: { name: string; phone?: string; website?: string; url?: string };
  cases: CrmCase[];
  activities: CrmActivity[];
}

/**
 * How the customer of a conversation was identified:
 * - channel: nothing to look up; the name is what the channel sent;
 * - pending: a CRM lookup is under way (the alert shows meanwhile);
 * - matched / ambiguous / none: the CRM answered (ambiguous also holds the
 *   results of the agent's own search, `searched`);
 * - too-many: the CRM has more candidates than can be checked;
 * - unreadable: the number could not be read; unavailable: no CRM tab to ask;
 *   failed: the CRM failed or took too long.
 */
export type Identification =
  | { status: 'channel' }
  | { status: 'pending'; phone?: string; email?: string }
  | {
      status: 'matched';
      phone?: string;
      org: CrmOrg;
      contact: CrmContact;
      picked?: boolean;
      /** Account, cases and activities, fetched after the match; `detailsError` when that failed. */
      details?: CrmDetails;
      detailsError?: string;
      /** The record was opened on Accept (screen pop), once. */
      popped?: true;
    }
  | { status: 'ambiguous'; phone?: string; org: CrmOrg; candidates: CrmContact[]; searched?: string }
  | { status: 'none' | 'unreadable' | 'unavailable' | 'failed' | 'too-many'; phone?: string; org?: CrmOrg; message: string };

/** The customer's name as the agent should read it: the CRM contact's once known. */
export function customerName(conversation: { customer: { name: string } }, identification: Identification | undefined): string {
  return identification?.status === 'matched' ? identification.contact.name : conversation.customer.name;
}
