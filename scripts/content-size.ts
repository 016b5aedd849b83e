/** The built content scripts' weight: injected into every CRM page, so a budget. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const CONTENT_BUDGET_GZIP = 25 * 1024;

export interface ContentSize {
  files: { name: string; raw: number; gzip: number }[];
  raw: number;
  gzip: number;
}

/** Sizes of the JS and CSS of every content script in a build; throws when there is none. */
export function contentScriptSize(buildDir = '.output/chrome-mv3'): ContentSize {
  const dir = path.resolve(buildDir, 'content-scripts');
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => /\.(js|css)$/.test(f));
  } catch {
    throw new Error(`no build at ${dir}; run npm run build first`);
  }
  if (names.length === 0) throw new Error('the build has no content script');
  const files = names.map((name) => {
    const bytes = readFileSync(path.join(dir, name));
    return { name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  return { files, raw: files.reduce((s, f) => s + f.raw, 0), gzip: files.reduce((s, f) => s + f.gzip, 0) };
}
