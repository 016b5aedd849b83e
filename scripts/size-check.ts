/**
 * `npm run size`: fails when the built JS + CSS of all content scripts exceed
 * the gzip budget, and prints the figures either way.
 */
import { CONTENT_BUDGET_GZIP, type ContentSize, contentScriptSize } from './content-size.ts';

let size: ContentSize;
try {
  size = contentScriptSize();
} catch (error) {
  console.error(`size: ${(error as Error).message}`);
  process.exit(1);
}
const kb = (bytes: number) => (bytes / 1024).toFixed(1);
for (const f of size.files) console.log(`size: ${f.name.padEnd(24)} ${kb(f.raw).padStart(7)} KB raw ${kb(f.gzip).padStart(6)} KB gzip`);
const within = size.gzip <= CONTENT_BUDGET_GZIP;
console.log(`size: content scripts ${kb(size.raw)} KB raw, ${kb(size.gzip)} KB gzip — ${within ? 'within' : 'OVER'} the ${CONTENT_BUDGET_GZIP / 1024} KB gzip budget`);
if (!within) process.exit(1);
