import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { describeClose } from '../entrypoints/background/feed-client';
import { checkFeedUrl } from './feed-url';
import { setCatalogue } from './i18n';
import { validateSettings } from './settings';

const dir = 'public/_locales';
const load = (lang: string) => JSON.parse(readFileSync(`${dir}/${lang}/messages.json`, 'utf8')) as Record<string, { message: string }>;
const slots = (text: string) => [...text.matchAll(/\$(\d)/g)].map((m) => m[1]).sort();

describe('translations', () => {
  const en = load('en');
  for (const lang of readdirSync(dir).filter((l) => l !== 'en')) {
    it(`${lang} has every English string, with the same placeholders`, () => {
      const other = load(lang);
      expect(Object.keys(other).sort()).toEqual(Object.keys(en).sort());
      for (const [key, { message }] of Object.entries(en)) {
        expect(other[key]!.message, key).not.toBe('');
        expect(slots(other[key]!.message), key).toEqual(slots(message));
      }
    });
  }

  it('every string the code asks for exists', () => {
    const sources = ['components', 'entrypoints', 'utils'].flatMap((d) =>
      readdirSync(d, { recursive: true, encoding: 'utf8' })
        .filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.test.ts') && !f.endsWith('.test.tsx'))
        .map((f) => readFileSync(`${d}/${f}`, 'utf8')),
    );
    const keys = new Set(sources.flatMap((s) => [...s.matchAll(/\bt\('([a-z_A-Z]+)'/g)].map((m) => m[1]!)));
    const missing = [...keys].filter((k) => !(k in en));
    expect(missing).toEqual([]);
  });

  describe('what the extension says at run time follows the chosen language', () => {
    afterEach(() => setCatalogue(null));
    it('connection errors, URL checks and validation, in Dutch', () => {
      const nl = Object.fromEntries(Object.entries(load('nl')).map(([k, v]) => [k, v.message]));
      setCatalogue(nl);
      expect(describeClose(1006, '')).toBe(nl.conn_lost);
      expect(checkFeedUrl('ws://feed.example.com/feed')).toEqual({ ok: false, error: nl.url_ws_remote });
      const result = validateSettings({ defaultRegion: 'Netherlands' });
      expect(JSON.stringify(result)).toContain(nl.val_region!);
    });
  });
});
