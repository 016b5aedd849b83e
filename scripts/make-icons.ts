/**
 * `npx tsx scripts/make-icons.ts`: renders the Deskbell bell (SVG) to the PNG
 * sizes Chrome and the stores want, with Debian's Chromium. The PNGs are
 * committed; run this again only when the drawing changes.
 */
import { chromium } from '@playwright/test';

const SIZES = [16, 32, 48, 96, 128];
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#3b82f6"/><stop offset="1" stop-color="#1d4ed8"/></linearGradient></defs>
  <rect x="4" y="4" width="120" height="120" rx="28" fill="url(#g)"/>
  <path d="M64 26c-15 0-26 11-26 27v17l-8 12v5h68v-5l-8-12V53c0-16-11-27-26-27z" fill="#fff"/>
  <path d="M52 93a12 12 0 0 0 24 0z" fill="#fff"/>
  <circle cx="92" cy="36" r="12" fill="#f59e0b" stroke="#fff" stroke-width="4"/>
</svg>`;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
for (const size of SIZES) {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(`<html><body style="margin:0;background:transparent">${SVG.replace('<svg ', `<svg width="${size}" height="${size}" `)}</body></html>`);
  await page.screenshot({ path: `public/icon/${size}.png`, omitBackground: true });
  console.log(`public/icon/${size}.png`);
}
await browser.close();
