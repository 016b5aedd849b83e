/**
 * `npm run demo`: builds the extension preconfigured for a local feed, starts
 * the feed server with the simulator and a demo CRM page, and opens Chromium
 * with the extension loaded. Ctrl-C stops everything.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { FakeDataverse } from '../demo/fake-crm/dataverse.ts';
import { generateSeed } from '../demo/fake-crm/seed.ts';
import { startFeedServer } from '../server/feed-server.ts';
import { DEMO_AGENT, DEMO_API_KEY } from '../server/demo-agent.ts';
import { runSimulator } from '../server/simulator.ts';

const FEED_PORT = Number(process.env.DESKBELL_PORT ?? 8787);
const CRM_PORT = Number(process.env.DESKBELL_CRM_PORT ?? 5173);
const OUT_DIR = '.output-demo';
const EXTENSION = path.resolve(OUT_DIR, 'chrome-mv3');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

console.log('demo: building the extension for the local feed…');
execFileSync('npx', ['wxt', 'build'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    ...process.env,
    DESKBELL_OUT_DIR: OUT_DIR,
    DESKBELL_FEED_URL: `ws://127.0.0.1:${FEED_PORT}/feed`,
    DESKBELL_FEED_TOKEN: DEMO_AGENT.token,
    DESKBELL_CRM_SITES: 'http://127.0.0.1/*',
  },
});

const feed = await startFeedServer({
  port: FEED_PORT,
  dataDir: '.data/demo',
  agents: [DEMO_AGENT],
  apiKey: DEMO_API_KEY,
  offerTimeoutSec: 45,
});
const controller = new AbortController();
void runSimulator({ apiUrl: feed.httpUrl, apiKey: DEMO_API_KEY, everySec: 15, signal: controller.signal });

// The demo CRM: a Dynamics 365 look-alike whose contacts include the
// simulator's customers, phones typed by hand among 2,000 others, so SMS
// offers get linked to them (with accounts and cases in the side panel).
const crm = await FakeDataverse.start(
  generateSeed({
    customers: [
      { first: 'Maria', last: 'Jansen', mobile: '06-1234 5678', email: 'maria.jansen@example.nl', title: 'Owner', account: 'bakery', cases: [{ number: 'CAS-0199', title: 'Double charge on invoice', state: 'active', createdOn: '2026-11-20T10:00:00Z' }], tasks: ['Call back about the refund'] },
      { first: 'Tom', last: 'Becker', business: '+49 151 23456789', email: 'tom.becker@example.de', title: 'Buyer', account: 'becker' },
      { first: 'Aisha', last: 'Khan', mobile: '+44 7700 900 123', email: 'aisha.khan@example.co.uk', title: 'Director' },
      { first: 'Lucas', last: 'Martin', mobile: '+33 6 12 34 56 78', email: 'lucas.martin@example.fr' },
      { first: 'Sofia', last: 'Rossi', mobile: '+39 312 345 6789', email: 'sofia.rossi@example.it' },
      { first: 'Daniel', last: 'Kim', business: '+1 (415) 555-0134', email: 'daniel.kim@example.com' },
    ],
    accounts: [
      { key: 'bakery', name: 'Jansen Bakkerij', phone: '020 123 4567' },
      { key: 'becker', name: 'Becker GmbH' },
    ],
    total: 2000,
    crowdTail: '5678',
    crowd: 300,
  }),
  CRM_PORT,
);
const crmUrl = crm.orgUrl;

console.log(`demo: feed server   ${feed.httpUrl} (agent ${DEMO_AGENT.name}, API key ${DEMO_API_KEY})`);
console.log(`demo: demo CRM      ${crmUrl}`);
console.log('demo: simulator     a new conversation about every 15 s');
console.log(`demo: be a customer ${feed.httpUrl}/chat`);

let browser: ReturnType<typeof spawn> | undefined;
if (process.env.DISPLAY && existsSync(CHROMIUM)) {
  const profile = path.resolve('.data/demo-profile');
  mkdirSync(profile, { recursive: true });
  const rootFlags = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  browser = spawn(
    CHROMIUM,
    [...rootFlags, `--user-data-dir=${profile}`, '--no-first-run', `--disable-extensions-except=${EXTENSION}`, `--load-extension=${EXTENSION}`, crmUrl],
    { stdio: 'ignore' },
  );
  browser.on('exit', () => stop());
  console.log('demo: Chromium is open with Deskbell loaded. Ctrl-C to stop.');
} else {
  console.log('demo: no display here, so no browser was started. To try it:');
  console.log(`        1. open chrome://extensions in Chrome or Edge, turn on Developer mode`);
  console.log(`        2. "Load unpacked" → ${EXTENSION}`);
  console.log(`        3. open ${crmUrl}`);
  console.log('      Ctrl-C to stop.');
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  console.log('demo: stopping…');
  controller.abort();
  browser?.kill();
  void crm.close();
  void feed.close().then(() => process.exit(0));
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
