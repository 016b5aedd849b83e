/**
 * UI strings come from `_locales/<lang>/messages.json`. By default Chrome
 * picks the language (the browser's); when an admin chooses one, the worker
 * sends that catalogue to every view and it takes precedence here. A missing
 * key shows the key itself, so it is noticed.
 */
import { browser } from 'wxt/browser';

export type MessageKey = keyof typeof import('../public/_locales/en/messages.json');

let catalogue: Readonly<Record<string, string>> | null = null;

/** Uses this catalogue (key → message) instead of the browser's language; null goes back to it. */
export function setCatalogue(strings: Readonly<Record<string, string>> | null | undefined): void {
  catalogue = strings ?? null;
}

export function t(key: MessageKey, ...substitutions: (string | number)[]): string {
  const chosen = catalogue?.[key];
  if (chosen !== undefined) return chosen.replace(/\$(\d)/g, (_, n: string) => String(substitutions[Number(n) - 1] ?? ''));
  return browser.i18n.getMessage(key, substitutions.map(String)) || key;
}

/** Reads a bundled catalogue as key → message (extension pages and the worker only). */
export async function loadCatalogue(language: string): Promise<Record<string, string>> {
  const response = await fetch(browser.runtime.getURL(`/_locales/${language}/messages.json` as '/'));
  const json = (await response.json()) as Record<string, { message: string }>;
  return Object.fromEntries(Object.entries(json).map(([key, entry]) => [key, entry.message]));
}
