/**
 * UI strings come from `_locales/<lang>/messages.json` through
 * `browser.i18n`. A missing key shows the key itself, so it is noticed.
 */
import { browser } from 'wxt/browser';

export type MessageKey = keyof typeof import('../public/_locales/en/messages.json');

export function t(key: MessageKey, ...substitutions: (string | number)[]): string {
  return browser.i18n.getMessage(key, substitutions.map(String)) || key;
}
