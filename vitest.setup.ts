/**
 * WXT's fake browser has no i18n: answer getMessage from the real English
 * catalogue, with Chrome's positional $1…$9 substitution.
 */
import { beforeEach, vi } from 'vitest';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import messages from './public/_locales/en/messages.json';

const catalogue = messages as Record<string, { message: string }>;

beforeEach(() => {
  vi.spyOn(fakeBrowser.i18n, 'getMessage').mockImplementation((key: string, subs?: string | (string | number)[]) => {
    const text = catalogue[key]?.message ?? '';
    const list = subs === undefined ? [] : Array.isArray(subs) ? subs : [subs];
    return text.replace(/\$(\d)/g, (_, n: string) => String(list[Number(n) - 1] ?? ''));
  });
});
