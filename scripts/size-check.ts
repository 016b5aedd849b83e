/**
 * `npm run size`: the content script is injected into every CRM page, so its
 * weight is a budget. Fails when the built JS + CSS of all content scripts
 * exceed it (gzip), and prints the figures either way.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_GZIP = 25 * 1024;
const dir = path.resolve('.output/chrome-mv3/content-scripts');

let files: string[];
try {
  files = readdirSync(dir).filter((f) => /\.(js|css)$/.test(f));
} catch {
  console.error(`size: no build at ${dir}; run npm run build first`);
  process.exit(1);
}
if (files.length === 0) {
  console.error('size: the build has no content script');
  process.exit(1);
}
let raw = 0;
let gzip = 0;
for (const file of files) {
  const bytes = readFileSync(path.join(dir, file));
  const gz = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gzip += gz;
  console.log(`size: ${file.padEnd(24)} ${(bytes.length / 1024).toFixed(1).padStart(7)} KB raw ${(gz / 1024).toFixed(1).padStart(6)} KB gzip`);
}
const verdict = gzip <= BUDGET_GZIP ? 'within' : 'OVER';
console.log(`size: content scripts ${(raw / 1024).toFixed(1)} KB raw, ${(gzip / 1024).toFixed(1)} KB gzip — ${verdict} the ${BUDGET_GZIP / 1024} KB gzip budget`);
if (gzip > BUDGET_GZIP) process.exit(1);
