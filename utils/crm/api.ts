/**
 * How an adapter talks to its CRM: requests go through a transport (the
 * org's own tab for Dynamics 365, the worker with the session's token for
 * Salesforce); this layer turns every answer that is not a success into one
 * plainly worded `CrmError`, honours a short Retry-After once, and checks
 * the shape of what comes back. Adapters never see a raw failure.
 */
import * as v from 'valibot';
import { t } from '../i18n';
import type { CrmContact, CrmDetails, CrmOrg } from './types';

export interface CrmRequest {
  method: 'GET' | 'POST' | 'PATCH';
  /** Path and query on the CRM's API origin, starting with "/". */
  path: string;
  body?: unknown;
  /** Only `Prefer` and `If-Match` pass through a page transport. */
  headers?: Record<string, string>;
}

export interface CrmResponse {
  status: number;
  body: unknown;
  /** Seconds, from a Retry-After header. */
  retryAfter?: number;
  /** A created record's address (OData-EntityId or Location). */
  location?: string;
}

export type CrmTransport = (request: CrmRequest) => Promise<CrmResponse>;

/**
 * - signin: the CRM session is gone (401/403);
 * - throttled: 429, retry after `retryAfterS`;
 * - failed: any other refusal; unreachable: no answer at all, or too slow;
 * - shape: an answer the adapter cannot read.
 */
export type CrmErrorKind = 'signin' | 'throttled' | 'failed' | 'unreachable' | 'shape';

export class CrmError extends Error {
  constructor(
    readonly kind: CrmErrorKind,
    message: string,
    readonly retryAfterS?: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

export const CRM_LABELS = { dynamics365: 'Dynamics 365', salesforce: 'Salesforce' } as const;

/** Waits for a Retry-After once when it is this short; longer ones are reported. */
const MAX_INLINE_WAIT_S = 3;

export class CrmApi {
  readonly label: string;

  constructor(
    readonly org: CrmOrg,
    private readonly transport: CrmTransport,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.label = CRM_LABELS[org.crm];
  }

  /** A successful response, or a `CrmError` that says what to do. */
  async send(request: CrmRequest): Promise<CrmResponse> {
    for (let attempt = 0; ; attempt++) {
      let response: CrmResponse;
      try {
        response = await this.transport(request);
      } catch (error) {
        throw error instanceof CrmError ? error : new CrmError('unreachable', t('crm_unreachable', this.label, error instanceof Error ? error.message : String(error)));
      }
      if (response.status >= 200 && response.status < 300) return response;
      if (response.status === 401 || response.status === 403) throw new CrmError('signin', t('crm_signin', this.label), undefined, response.status);
      if (response.status === 429 || response.status === 503) {
        const wait = Math.max(1, Math.ceil(response.retryAfter ?? 5));
        if (attempt === 0 && response.retryAfter !== undefined && wait <= MAX_INLINE_WAIT_S) {
          await this.sleep(wait * 1000);
          continue;
        }
        if (response.status === 429) throw new CrmError('throttled', t('crm_throttled', this.label, wait), wait, 429);
      }
      throw new CrmError('failed', t('crm_failed', this.label, `${response.status}${errorText(response.body)}`), undefined, response.status);
    }
  }

  /** A successful response's body, checked against `schema`. */
  async json<S extends v.GenericSchema>(request: CrmRequest, schema: S): Promise<v.InferOutput<S>> {
    const response = await this.send(request);
    return this.check(response.body, schema);
  }

  check<S extends v.GenericSchema>(body: unknown, schema: S): v.InferOutput<S> {
    const result = v.safeParse(schema, body);
    if (!result.success) throw new CrmError('shape', t('crm_shape', this.label, v.summarize(result.issues).split('\n')[0] ?? ''));
    return result.output;
  }
}

/** The CRM's own words for a refusal, when it gave some (OData `error.message`, Salesforce `[{message}]`). */
function errorText(body: unknown): string {
  const b = body as { error?: { message?: unknown } } | { message?: unknown }[] | null;
  const message = Array.isArray(b) ? b[0]?.message : b?.error?.message;
  return typeof message === 'string' && message ? `: ${message.slice(0, 200)}` : '';
}

/** What an adapter's `writeBack` records: one finished conversation. */
export interface ConversationRecord {
  conversationId: string;
  channel: string;
  customerName: string;
  agentName: string;
  startedAt: number;
  endedAt: number;
  /** "HH:MM Name: text" lines, oldest first. */
  transcript: string;
}

/** The id every CRM write-back of this conversation in this org derives from (the same on every attempt). */
export const recordKey = (org: CrmOrg, conversationId: string) => stableUuid(`deskbell:${org.origin}:${conversationId}`);

/** A written-back conversation's title, as both CRMs show it on the timeline. */
export const recordSubject = (r: ConversationRecord) => `Deskbell ${r.channel} conversation with ${r.customerName}`;

/** A written-back conversation's body: channel, agent, times, then the transcript. */
export const recordText = (r: ConversationRecord) =>
  `Channel: ${r.channel}\nAgent: ${r.agentName}\nStarted: ${new Date(r.startedAt).toISOString()}\nEnded: ${new Date(r.endedAt).toISOString()}\n\n${r.transcript}`;

/** Everything the side panel and the lookups need from one CRM; `identify` and the panel use only this. */
export interface CrmAdapter {
  readonly id: CrmOrg['crm'];
  /** True for a page of this CRM (where the agent is signed in). */
  matchesPage(url: string): boolean;
  /** Contacts whose phone fields hold the number (E.164), compared digit for digit; stops after reading `maxRows` candidates. */
  findByPhone(api: CrmApi, e164: string, region: string, maxRows?: number): Promise<PhoneSearch>;
  findByEmail(api: CrmApi, email: string): Promise<CrmContact[]>;
  findByName(api: CrmApi, text: string): Promise<CrmContact[]>;
  /** One contact by id (a `crmId` from the channel), or undefined. */
  contact(api: CrmApi, id: string): Promise<CrmContact | undefined>;
  details(api: CrmApi, contactId: string): Promise<CrmDetails>;
  recordUrl(org: CrmOrg, contactId: string): string;
  createContact(api: CrmApi, input: { name: string; phone?: string; email?: string }): Promise<CrmContact>;
  /** Writes the conversation to the contact's timeline; safe to call again after any failure (never writes twice). */
  writeBack(api: CrmApi, contactId: string, record: ConversationRecord, attempt: number): Promise<void>;
}

export type PhoneSearch = { contacts: CrmContact[]; complete: true } | { contacts: CrmContact[]; complete: false; checked: number };

/** Splits a display name into first and last name the way CRMs store them. */
export function splitName(name: string): { first?: string; last: string } {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length <= 1) return { last: parts[0] || '(unknown)' };
  return { first: parts[0]!, last: parts.slice(1).join(' ') };
}

/** A stable UUID for a string (SHA-1, RFC 4122 version 5 layout): the same conversation always gets the same record id. */
export async function stableUuid(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text))).slice(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
