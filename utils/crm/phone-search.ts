/**
 * Finding a hand-typed phone number in a CRM, the same way for every CRM:
 * ask for every contact whose phone fields contain the number's last four
 * digits (as people write them), read every page of the answer, and keep the
 * contacts whose number, normalised, is the customer's.
 */
import { normalizePhone } from '../phone';
import type { PhoneSearch } from './api';
import type { CrmContact, MatchedBy } from './types';

/** How the last four digits of a number may be written in a hand-typed field. */
export function digitTails(e164: string): string[] {
  const four = e164.replace(/\D/g, '').slice(-4);
  return [four, `${four.slice(0, 2)} ${four.slice(2)}`, `${four.slice(0, 2)}-${four.slice(2)}`, `${four.slice(0, 2)}.${four.slice(2)}`];
}

/** Only tails that are digits and separators reach a query. */
export const safeTails = (tails: readonly string[]) => tails.filter((t) => /^[\d .-]{2,8}$/.test(t));

export interface PhonePages<Row> {
  first: string;
  /** One page: its rows, and the path of the next one if any. */
  page(path: string): Promise<{ rows: Row[]; next?: string | undefined }>;
  /** Each phone field of a row, and what a match on it is called. */
  fields: Record<string, MatchedBy>;
  toContact(row: Row, matchedBy: MatchedBy): CrmContact;
}

export async function searchPhonePages<Row extends Record<string, unknown>>(pages: PhonePages<Row>, e164: string, region: string, maxRows: number): Promise<PhoneSearch> {
  const matches: CrmContact[] = [];
  let path: string | undefined = pages.first;
  let checked = 0;
  while (path) {
    if (checked >= maxRows) return { contacts: matches, complete: false, checked };
    const { rows, next } = await pages.page(path);
    checked += rows.length;
    for (const row of rows) {
      const field = Object.keys(pages.fields).find((f) => {
        const typed = row[f];
        if (typeof typed !== 'string' || !typed) return false;
        const check = normalizePhone(typed, region);
        return check.ok && check.e164 === e164;
      });
      if (field) matches.push(pages.toContact(row, pages.fields[field]!));
    }
    path = next;
  }
  return { contacts: matches, complete: true };
}
