/**
 * What the agent's browser feels: Debian Chromium with the built extension,
 * a feed server and a CRM page on 127.0.0.1, each figure beside a baseline
 * measured in the same browser in the same run.
 *
 * - latency: feed frame sent → overlay card painted in the CRM tab, against a
 *   page that renders the same frame from its own WebSocket.
 * - footprint: the CRM pages loaded with and without the extension, each
 *   loaded over itself and after a blank page.
 * - burst: a thousand offers within a second; frames the page drew meanwhile
 *   against the same page idle, and the worker's heap before and after.
 */
import { type BrowserContext, chromium, type Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { type FeedServer, startFeedServer } from '../server/feed-server.ts';
import { startCrmSite } from '../tests/e2e/crm-site.ts';
import { AGENT, CHROMIUM, CHROMIUM_ARGS, chromiumArgs, CRM_SITE } from '../tests/e2e/harness.ts';
import { OverlayPage } from '../tests/e2e/overlay-page.ts';
import { type Distribution, distribution, median, ratioInterval, round, sleep, waitFor, wallClock } from './stats.ts';

const BENCH_AGENT = { ...AGENT, capacity: 100_000 };

/**
 * In the page: watches a root (a shadow root or a plain element) and reports
 * each new card once it is painted, and as \`<key>:gone\` once it is removed
 * (so the bench need not poll the page through DevTools, which would tax it).
 */
const WATCH_CARDS = `function (bindingName) {
  const root = this;
  const seen = new Set();
  const up = new Set();
  const afterPaint = (fn) => requestAnimationFrame(() => { const ch = new MessageChannel(); ch.port1.onmessage = fn; ch.port2.postMessage(0); });
  new MutationObserver(() => {
    const present = new Set();
    for (const card of root.querySelectorAll('[data-bench-key], .card')) {
      const key = card.getAttribute('data-bench-key') ?? card.querySelector('.comment')?.textContent ?? '';
      if (!key.startsWith('bench-')) continue;
      present.add(key);
      if (seen.has(key)) continue;
      seen.add(key);
      up.add(key);
      afterPaint(() => window[bindingName](key, performance.timeOrigin + performance.now()));
    }
    for (const key of up) if (!present.has(key)) {
      up.delete(key);
      window[bindingName](key + ':gone', performance.timeOrigin + performance.now());
    }
  }).observe(root, { childList: true, subtree: true, characterData: true });
  return true;
}`;

/** The baseline: a page that renders an offer frame from its own socket, as plainly as can be. */
const BASELINE_PAGE = `<!doctype html><meta charset="utf-8"><title>baseline</title>
<div id="cards"></div>
<script>
  const cards = document.getElementById('cards');
  const ws = new WebSocket(new URLSearchParams(location.search).get('ws'));
  ws.onmessage = (e) => {
    const frame = JSON.parse(e.data);
    const card = document.createElement('div');
    card.setAttribute('data-bench-key', frame.conversation.comment);
    const name = document.createElement('b');
    name.textContent = frame.conversation.customer.name;
    const comment = document.createElement('p');
    comment.textContent = frame.conversation.comment;
    card.append(name, comment);
    cards.replaceChildren(card);
  };
  ws.onopen = () => document.title = 'open';
</script>`;

interface Session {
  context: BrowserContext;
  feed: FeedServer;
  crm: Awaited<ReturnType<typeof startCrmSite>>;
  extensionId: string;
  /** Where the DevTools endpoint of this browser listens (for the worker's heap). */
  devtoolsPort: number;
  userDataDir: string;
  close(): Promise<void>;
}

/** Which extension a benchmark browser runs: none, Deskbell, or one whose content script is empty (what any content script costs). */
type Loaded = 'none' | 'deskbell' | 'empty';

/** An unpacked build to load instead of `.output/chrome-mv3` (an older build, to compare against in the same run). */
let deskbellArgs = CHROMIUM_ARGS;

/** Set for the cpu section: a headed browser on a virtual display, where a background tab is really hidden and nothing paints for nothing. */
let headedDisplay: string | undefined;

async function launch(loaded: Loaded): Promise<{ context: BrowserContext; devtoolsPort: number; userDataDir: string; dispose(): Promise<void> }> {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-bench-'));
  const plain = CHROMIUM_ARGS.filter((a) => !a.includes('extension'));
  const extensionArgs = (dir: string) => [`--disable-extensions-except=${dir}`, `--load-extension=${dir}`];
  let emptyExtension: string | undefined;
  if (loaded === 'empty') {
    emptyExtension = mkdtempSync(path.join(tmpdir(), 'deskbell-bench-empty-'));
    const manifest = { manifest_version: 3, name: 'empty content script', version: '1', content_scripts: [{ matches: [CRM_SITE], js: ['cs.js'], run_at: 'document_idle' }] };
    writeFileSync(path.join(emptyExtension, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(path.join(emptyExtension, 'cs.js'), 'void 0;\n');
  }
  const args = [...(loaded === 'deskbell' ? deskbellArgs : loaded === 'empty' ? [...plain, ...extensionArgs(emptyExtension!)] : plain), '--remote-debugging-port=0'];
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args,
    ...(headedDisplay ? { headless: false, env: { ...process.env, DISPLAY: headedDisplay }, viewport: null } : { headless: true, viewport: { width: 1280, height: 800 } }),
  });
  const devtoolsPort = Number(readFileSync(path.join(userDataDir, 'DevToolsActivePort'), 'utf8').split('\n')[0]);
  return {
    context,
    devtoolsPort,
    userDataDir,
    dispose: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
      if (emptyExtension) rmSync(emptyExtension, { recursive: true, force: true });
    },
  };
}

/** Chromium with Deskbell, connected to a fresh feed server and set up for the fake CRM. */
async function startSession(extraSettings: Record<string, unknown> = {}): Promise<Session> {
  const feed = await startFeedServer({ dataDir: ':memory:', agents: [BENCH_AGENT], offerTimeoutSec: 600, rateLimit: 100_000 });
  const crm = await startCrmSite();
  const { context, devtoolsPort, userDataDir, dispose } = await launch('deskbell');
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  const id = new URL(worker.url()).host;
  const settingsPage = await context.newPage();
  await settingsPage.goto(`chrome-extension://${id}/popup.html`);
  await settingsPage.evaluate(
    async ([feedUrl, feedToken, site, extra]) => {
      const { settings } = await chrome.storage.local.get('settings');
      await chrome.storage.local.set({ settings: { ...(settings ?? {}), feedUrl, feedToken, crmSites: [site], ...extra } });
    },
    [feed.feedUrl, BENCH_AGENT.token, CRM_SITE, extraSettings] as const,
  );
  const connected = await waitFor(() => feed.service.isConnected(BENCH_AGENT.id), 15_000);
  if (!connected) throw new Error('bench: the extension did not connect to the feed');
  await settingsPage.close();
  return {
    context,
    feed,
    crm,
    extensionId: id,
    devtoolsPort,
    userDataDir,
    close: async () => {
      await dispose();
      await feed.close();
      await crm.close();
    },
  };
}

/** Opens the CRM page and waits for the overlay's shadow root. */
async function openCrm(session: Session): Promise<{ page: Page; overlay: OverlayPage }> {
  const page = await session.context.newPage();
  await page.goto(session.crm.url());
  const overlay = new OverlayPage(page);
  if (!(await waitForAsync(async () => (await overlay.shadowMode()) !== null, 10_000))) throw new Error('bench: no overlay on the CRM page');
  return { page, overlay };
}

async function waitForAsync(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) return false;
    await sleep(25);
  }
  return true;
}

/** Calls `onSend(key, at)` whenever a `ws` socket in this process sends an offer frame whose comment is a bench key. */
function watchOutgoingOffers(onSend: (key: string, at: number, frame: string) => void): () => void {
  const proto = WebSocket.prototype as unknown as { send: (data: unknown, ...rest: unknown[]) => void };
  const original = proto.send;
  proto.send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
    if (typeof data === 'string' && data.startsWith('{"type":"offer"')) {
      const key = /"comment":"(bench-[\w-]+)"/.exec(data)?.[1];
      if (key) onSend(key, wallClock(), data);
    }
    return original.call(this, data, ...rest);
  };
  return () => void (proto.send = original);
}

export interface LatencyFigures {
  offers: number;
  baseline: Distribution;
  deskbell: Distribution;
  /** Deskbell's percentile minus the baseline's. */
  overhead: { p50: number; p95: number; p99: number };
  /** Where the time goes, hop by hop (bench builds mark each hop: utils/hops.ts); empty for a build without marks. */
  hops: { hop: string; p50: number; p95: number; n: number }[];
  /** Frame sent → card painted for the first card in CRM tabs that never showed one (opened, loaded, overlay injected). */
  firstCard: Distribution & { tabs: number };
  /** The same hops, for those first cards only. */
  firstCardHops: LatencyFigures['hops'];
}

/** Between one offer's end and the next offer in the latency section. */
const QUIET_MS = Number(process.env.BENCH_QUIET_MS ?? 100);

/** Fresh CRM tabs for the first-card figure. */
const FIRST_CARD_TABS = 10;

/** Marks of each hop, by name then id, as wall-clock ms (timeOrigin + startTime), from one context. */
const READ_MARKS = `() => {
  const out = {};
  for (const m of performance.getEntriesByType('mark')) {
    const [prefix, name, id] = m.name.split(':');
    if (prefix !== 'deskbell') continue;
    out[name] ??= {};
    out[name][id] ??= performance.timeOrigin + m.startTime;
  }
  return out;
}`;
type Marks = Record<string, Record<string, number>>;

const HOP_STEPS: [string, string, string][] = [
  ['socket: sent → worker has the frame', 'sent', 'received'],
  ['worker: parse and validate', 'received', 'parsed'],
  ['worker: state update → views posted', 'parsed', 'posted'],
  ['port: posted → content script has it', 'posted', 'arrived'],
  ['content script: render', 'arrived', 'rendered'],
  ['paint: rendered → painted', 'rendered', 'painted'],
];

function hopTable(times: Marks): LatencyFigures['hops'] {
  return HOP_STEPS.map(([label, from, to]) => {
    const spans = Object.keys(times[to] ?? {})
      .filter((id) => times[from]?.[id] !== undefined)
      .map((id) => times[to]![id]! - times[from]![id]!);
    const d = distribution(spans.length ? spans : [0]);
    return { hop: label, p50: round(d.p50), p95: round(d.p95), n: spans.length };
  });
}

export async function benchLatency(offers: number): Promise<LatencyFigures> {
  const session = await startSession();
  try {
    const { page, overlay } = await openCrm(session);
    const sentAt = new Map<string, number>();
    /** Offer id → bench key, and when its frame was sent, for the hop table. */
    const sentById: Record<string, number> = {};
    const keyById = new Map<string, string>();
    let sampleFrame = '';
    const stop = watchOutgoingOffers((key, at, frame) => {
      sentAt.set(key, at);
      const offerId = /"offerId":"([^"]+)"/.exec(frame)?.[1];
      if (offerId) {
        sentById[offerId] = at;
        keyById.set(offerId, key);
      }
      sampleFrame ||= frame;
    });
    const painted = new Map<string, number>();
    await page.exposeFunction('__deskbellBenchPainted', (key: string, at: number) => painted.set(key, at));
    await overlay.evaluate(WATCH_CARDS, '__deskbellBenchPainted');
    await overlay.stopFollowingDom();
    const deskbell: number[] = [];
    try {
      for (let i = 0; i < offers; i++) {
        const key = `bench-${i}`;
        const conversation = await session.feed.service.createConversation({ scenario: 'chat', channel: 'chat', customer: { name: `Customer ${i}` }, comment: key });
        if (!(await waitFor(() => painted.has(key), 10_000))) throw new Error(`bench: offer ${i} never showed`);
        deskbell.push(painted.get(key)! - sentAt.get(key)!);
        // The customer leaves: the card goes, and the next offer is alone on screen. It comes once the
        // end has been handled (stored, the ringtone stopped), as the baseline's frames come 20 ms apart.
        await session.feed.service.endByCustomer(conversation.id);
        if (!(await waitFor(() => painted.has(`${key}:gone`), 10_000))) throw new Error(`bench: offer ${i} never went`);
        await sleep(QUIET_MS);
      }
    } catch (error) {
      stop();
      throw error;
    }
    const worker = session.context.serviceWorkers().find((w) => w.url().includes(session.extensionId));
    const workerMarks = ((await worker?.evaluate(`(${READ_MARKS})()`)) ?? {}) as Marks;
    const pageMarks = (await page.evaluate(`(${READ_MARKS})()`)) as Marks;
    const paintedById: Record<string, number> = {};
    for (const [id, key] of keyById) if (painted.has(key)) paintedById[id] = painted.get(key)!;
    const hops = hopTable({ ...workerMarks, ...pageMarks, sent: sentById, painted: paintedById });
    await page.close();
    const firstCard: number[] = [];
    const firstMarks: Marks = {};
    const firstPainted: Record<string, number> = {};
    for (let i = 0; i < FIRST_CARD_TABS; i++) {
      const fresh = await openCrm(session);
      const key = `bench-first-${i}`;
      const paintedHere = new Map<string, number>();
      await fresh.page.exposeFunction('__deskbellBenchPainted', (k: string, at: number) => paintedHere.set(k, at));
      await fresh.overlay.evaluate(WATCH_CARDS, '__deskbellBenchPainted');
      await fresh.overlay.stopFollowingDom();
      await sleep(QUIET_MS);
      const conversation = await session.feed.service.createConversation({ scenario: 'chat', channel: 'chat', customer: { name: `First ${i}` }, comment: key });
      if (!(await waitFor(() => paintedHere.has(key), 10_000))) throw new Error(`bench: the first card in fresh tab ${i} never showed`);
      firstCard.push(paintedHere.get(key)! - sentAt.get(key)!);
      const offerId = [...keyById].find(([, k]) => k === key)?.[0];
      if (offerId) firstPainted[offerId] = paintedHere.get(key)!;
      for (const [name, ids] of Object.entries((await fresh.page.evaluate(`(${READ_MARKS})()`)) as Marks)) Object.assign((firstMarks[name] ??= {}), ids);
      await session.feed.service.endByCustomer(conversation.id);
      await fresh.page.close();
    }
    stop();
    const workerAfter = ((await worker?.evaluate(`(${READ_MARKS})()`)) ?? {}) as Marks;
    const firstIds = new Set(Object.keys(firstPainted));
    const onlyFirst = (marks: Marks): Marks => Object.fromEntries(Object.entries(marks).map(([name, ids]) => [name, Object.fromEntries(Object.entries(ids).filter(([id]) => firstIds.has(id)))]));
    const firstCardHops = hopTable(onlyFirst({ ...workerAfter, ...firstMarks, sent: sentById, painted: firstPainted }));
    const baseline = await baselineLatency(session.context, sampleFrame, offers);
    const d = distribution(deskbell);
    const b = distribution(baseline);
    return {
      offers,
      baseline: b,
      deskbell: d,
      overhead: { p50: round(d.p50 - b.p50), p95: round(d.p95 - b.p95), p99: round(d.p99 - b.p99) },
      hops,
      firstCard: { ...distribution(firstCard), tabs: FIRST_CARD_TABS },
      firstCardHops,
    };
  } finally {
    await session.close();
  }
}

/** The same frames, sent by a bare `ws` server to a page in the same browser that renders them itself. */
async function baselineLatency(context: BrowserContext, frame: string, offers: number): Promise<number[]> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const sockets: WebSocket[] = [];
  wss.on('connection', (s) => sockets.push(s));
  // Served from localhost, where no CRM site is set, so no overlay runs on it.
  const http = await serve(BASELINE_PAGE);
  try {
    const page = await context.newPage();
    const painted = new Map<string, number>();
    await page.exposeFunction('__deskbellBenchPainted', (key: string, at: number) => painted.set(key, at));
    await page.goto(`http://localhost:${(http.address() as AddressInfo).port}/?ws=ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    await page.waitForFunction(() => document.title === 'open');
    const root = await page.evaluateHandle(() => document.getElementById('cards')!);
    await root.evaluate((el, fn) => new Function(`return (${fn})`)().call(el, '__deskbellBenchPainted'), WATCH_CARDS);
    const latencies: number[] = [];
    for (let i = 0; i < offers; i++) {
      const key = `bench-${i}`;
      const at = wallClock();
      sockets[0]!.send(frame.replace(/bench-\d+/, key));
      if (!(await waitFor(() => painted.has(key), 10_000))) throw new Error(`bench: baseline frame ${i} never showed`);
      latencies.push(painted.get(key)! - at);
      await sleep(20);
    }
    await page.close();
    return latencies;
  } finally {
    http.close();
    await new Promise((r) => wss.close(r));
  }
}

function serve(html: string): Promise<Server> {
  const server = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

export interface LoadFigures {
  /** Navigation start → load event end, median over the loads. */
  loadMs: number;
  /** Main-thread task time of the page's renderer from navigation to 300 ms after load (CDP Performance TaskDuration). */
  taskMs: number;
  /** Long tasks (≥ 50 ms) seen per load. */
  longTasks: number;
}

export interface PageFootprint {
  page: string;
  /**
   * How the tab got there: `again`, the page loaded over itself (the
   * document torn down meanwhile had Deskbell's overlay, or the empty script);
   * `fresh`, loaded after a blank page (nothing of the last load left).
   */
  navigation: Navigation;
  without: LoadFigures;
  /** With an extension whose content script is empty: what Chromium charges any content script. */
  emptyScript: LoadFigures;
  with: LoadFigures;
  /** Median load with Deskbell over median load without any extension. */
  loadRatio: number;
  /** Where that ratio may lie given the loads' spread (95 % bootstrap interval): a ratio whose interval holds 1.03 cannot be told from it. */
  loadRatioRange: [number, number];
  /** Median load with Deskbell over median load with the empty content script: Deskbell's own share. */
  ownRatio: number;
}

export interface FootprintFigures {
  loads: number;
  pages: PageFootprint[];
}

/**
 * The small fake CRM page, a contacts grid the size of a real CRM view, and a
 * page that appends to the document 10 times a second and toggles a popover
 * twice a second (what guarding the overlay's place costs there).
 */
const FOOTPRINT_PAGES = ['crm.html', 'crm-grid.html', 'crm-churn.html'];

type Navigation = 'again' | 'fresh';

/** A browser of the footprint section, with one tab that loads the pages. */
interface Loader {
  loaded: Loaded;
  load(url: string, navigation: Navigation): Promise<LoadFigures>;
  dispose(): Promise<void>;
}

async function startLoader(loaded: Loaded): Promise<Loader> {
  const browser = await launch(loaded);
  if (loaded === 'deskbell') {
    const worker = browser.context.serviceWorkers()[0] ?? (await browser.context.waitForEvent('serviceworker'));
    const setup = await browser.context.newPage();
    await setup.goto(`chrome-extension://${new URL(worker.url()).host}/popup.html`);
    const setAt = Date.now();
    await setup.evaluate(async (site) => chrome.storage.local.set({ settings: { crmSites: [site] } }), CRM_SITE);
    const appliedAt = () => setup.evaluate(async () => (((await chrome.storage.session.get('diagnostics')).diagnostics as { settingsAppliedAt?: number } | undefined)?.settingsAppliedAt) ?? 0);
    await waitForAsync(async () => (await appliedAt()) >= setAt, 10_000);
    await setup.close();
  }
  await browser.context.addInitScript(`
    window.__longTasks = 0;
    new PerformanceObserver((list) => (window.__longTasks += list.getEntries().length)).observe({ type: 'longtask', buffered: true });
  `);
  const page = await browser.context.newPage();
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const taskDuration = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')!.value * 1000;
  return {
    loaded,
    load: async (url, navigation) => {
      if (navigation === 'fresh') {
        await page.goto('about:blank');
        await sleep(100); // the last document's teardown done before the clock starts
      }
      await page.goto(url, { waitUntil: 'load' });
      // Deskbell's overlay is injected once the page has loaded and mounts when idle; give it time to finish before counting.
      await sleep(300);
      const { load, longTasks } = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
        return { load: nav.loadEventEnd - nav.startTime, longTasks: (window as unknown as { __longTasks: number }).__longTasks };
      });
      return { loadMs: load, taskMs: await taskDuration(), longTasks };
    },
    dispose: () => browser.dispose(),
  };
}

/**
 * The three browsers (no extension, an empty content script, Deskbell) run
 * side by side and take turns, one load each, in a rotating order: a machine
 * that gets busier or quieter during the run moves all three alike.
 */
export async function benchFootprint(loads: number): Promise<FootprintFigures> {
  const crm = await startCrmSite();
  const loaders: Loader[] = [];
  try {
    for (const loaded of ['none', 'empty', 'deskbell'] as const) loaders.push(await startLoader(loaded));
    const pages: PageFootprint[] = [];
    for (const [pageName, navigation] of FOOTPRINT_PAGES.flatMap((p) => (['again', 'fresh'] as const).map((n) => [p, n] as const))) {
      const samples = new Map<Loaded, LoadFigures[]>(loaders.map((l) => [l.loaded, []]));
      // One warm-up round, not counted: caches, the first compile of the content script.
      for (let i = 0; i <= loads; i++) {
        for (let k = 0; k < loaders.length; k++) {
          const loader = loaders[(i + k) % loaders.length]!;
          const figures = await loader.load(crm.url(pageName), navigation);
          if (i > 0) samples.get(loader.loaded)!.push(figures);
        }
      }
      const summary = (loaded: Loaded): LoadFigures => {
        const list = samples.get(loaded)!;
        return {
          loadMs: median(list.map((s) => s.loadMs)),
          taskMs: median(list.map((s) => s.taskMs)),
          longTasks: round(list.reduce((sum, s) => sum + s.longTasks, 0) / list.length),
        };
      };
      const [without, emptyScript, deskbell] = [summary('none'), summary('empty'), summary('deskbell')];
      const loadsOf = (loaded: Loaded) => samples.get(loaded)!.map((s) => s.loadMs);
      pages.push({
        page: pageName,
        navigation,
        without,
        emptyScript,
        with: deskbell,
        loadRatio: round(deskbell.loadMs / without.loadMs, 3),
        loadRatioRange: ratioInterval(loadsOf('deskbell'), loadsOf('none')),
        ownRatio: round(deskbell.loadMs / emptyScript.loadMs, 3),
      });
    }
    return { loads, pages };
  } finally {
    for (const loader of loaders) await loader.dispose();
    await crm.close();
  }
}

export interface BurstFigures {
  offers: number;
  /** Offers in the worker's store, and shown or counted in the overlay, after the burst. */
  stored: number;
  shown: number;
  /** First offer sent → the overlay accounts for all of them. */
  allShownMs: number;
  /** Gaps between the page's animation frames: the page idle (baseline) and during the burst. */
  framesIdle: Distribution;
  framesBurst: Distribution;
  /** The worker's JS heap after a GC, before and after the burst (MB). */
  heapBeforeMb: number;
  heapAfterMb: number;
}

export async function benchBurst(offers: number): Promise<BurstFigures> {
  const session = await startSession();
  try {
    const { page, overlay } = await openCrm(session);
    const heapBeforeMb = await workerHeapMb(session.devtoolsPort);
    // A string, not a function: the bundler's helpers (`__name`) do not exist in the page.
    const frameGaps = (ms: number) =>
      page.evaluate<number[]>(`new Promise((resolve) => {
        const gaps = [];
        let last = performance.now();
        const end = last + ${ms};
        const frame = (t) => {
          gaps.push(t - last);
          last = t;
          if (t < end) requestAnimationFrame(frame);
          else resolve(gaps);
        };
        requestAnimationFrame(frame);
      })`);
    const framesIdle = distribution(await frameGaps(1500));
    const during = frameGaps(3000);
    const start = wallClock();
    const sending = (async () => {
      for (let i = 0; i < offers; i++) {
        void session.feed.service.createConversation({ scenario: 'chat', channel: 'chat', customer: { name: `Customer ${i}` }, comment: `burst ${i}` });
        // Spread over one second, in slices of 50.
        if (i % 50 === 49) await sleep(1000 / (offers / 50));
      }
    })();
    const accounted = () =>
      overlay.evaluate<number>(`function () {
        const more = Number(/\\d+/.exec(this.querySelector('.more')?.textContent ?? '')?.[0] ?? 0);
        return this.querySelectorAll('.card').length + more;
      }`);
    await sending;
    await waitForAsync(async () => ((await accounted()) ?? 0) >= offers, 60_000);
    const allShownMs = round(wallClock() - start);
    const framesBurst = distribution(await during);
    const shown = (await accounted()) ?? 0;
    const settingsPage = await session.context.newPage();
    await settingsPage.goto(`chrome-extension://${session.extensionId}/popup.html`);
    const stored = await settingsPage.evaluate(async () => {
      const { feedState } = await chrome.storage.session.get('feedState');
      return Object.values((feedState as { offers: Record<string, { status: string }> }).offers).filter((o) => o.status === 'offered').length;
    });
    await settingsPage.close();
    const heapAfterMb = await workerHeapMb(session.devtoolsPort);
    return { offers, stored, shown, allShownMs, framesIdle, framesBurst, heapBeforeMb, heapAfterMb };
  } finally {
    await session.close();
  }
}

/** The extension service worker's used JS heap after a full GC, through the browser's DevTools endpoint. */
async function workerHeapMb(port: number): Promise<number> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; url: string; webSocketDebuggerUrl: string }[];
  const target = targets.find((t) => t.type === 'service_worker' && t.url.startsWith('chrome-extension://'));
  if (!target) throw new Error('bench: no extension service worker to measure');
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const call = (method: string) =>
    new Promise<Record<string, number>>((resolve) => {
      const mine = ++id;
      const onMessage = (data: WebSocket.RawData) => {
        const reply = JSON.parse(data.toString()) as { id?: number; result: Record<string, number> };
        if (reply.id !== mine) return;
        ws.off('message', onMessage);
        resolve(reply.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const { usedSize } = await call('Runtime.getHeapUsage');
    return round(usedSize! / 1024 / 1024);
  } finally {
    ws.close();
  }
}

// ---------------------------------------------------------------------------
// CPU of cards on screen

/** Clock ticks of every process of the Chromium started with this profile (browser, renderers, GPU, utilities). */
function chromiumTicks(userDataDir: string): { total: number; byType: Record<string, number> } {
  const procs = new Map<number, { ppid: number; ticks: number; type: string; cmd: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const type = /--type=(\S+)/.exec(cmd)?.[1] ?? 'browser';
      procs.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), type, cmd });
    } catch {
      // gone meanwhile
    }
  }
  const root = [...procs.entries()].find(([, p]) => p.type === 'browser' && p.cmd.includes(userDataDir))?.[0];
  const byType: Record<string, number> = {};
  let total = 0;
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, depth = 0; p && depth < 10; p = procs.get(p)?.ppid, depth++) if (p === root) return true;
    return false;
  };
  for (const [pid, p] of procs) {
    if (root === undefined || !inTree(pid)) continue;
    total += p.ticks;
    byType[p.type] = (byType[p.type] ?? 0) + p.ticks;
  }
  return { total, byType };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
/** New windows keep the browser busy for a few seconds (first paints, startup tasks): measured after this. */
const SETTLE_MS = 6000;

/** Percent of one core the browser used over `seconds`, in all and by process type. */
async function cpuOver(userDataDir: string, seconds: number): Promise<{ percent: number; byType: Record<string, number> }> {
  const before = chromiumTicks(userDataDir);
  await sleep(seconds * 1000);
  const after = chromiumTicks(userDataDir);
  const pct = (ticks: number) => round((ticks / TICKS_PER_SECOND / seconds) * 100, 1);
  const byType: Record<string, number> = {};
  for (const [type, ticks] of Object.entries(after.byType)) byType[type] = pct(ticks - (before.byType[type] ?? 0));
  return { percent: pct(after.total - before.total), byType };
}

/** The tabs the agent sees: every one when each has its own window, else the last opened (the window's active tab). */
function onScreen<T>(tabs: readonly T[], windows: boolean): T[] {
  return tabs.filter((_, i) => windows || i === tabs.length - 1);
}

/**
 * A box like a card, drawn by the page, whose text changes once a second:
 * the cpu section's yardstick, shown where each card is, in turns with it.
 */
const TICKING_BOX = `(() => {
  const box = document.createElement('div');
  box.id = 'bench-ticking-box';
  box.style.cssText = 'position:fixed;top:16px;right:16px;width:340px;padding:12px;background:#222;color:#fff;font:14px system-ui;box-shadow:0 12px 32px rgba(0,0,0,.45);border-radius:8px;z-index:9';
  const left = document.createElement('span');
  box.append('Incoming chat · ', left);
  document.body.append(box);
  let seconds = 600;
  const tick = () => {
    if (!box.isConnected) return;
    left.textContent = Math.floor(seconds / 60) + ':' + String(seconds-- % 60).padStart(2, '0');
    setTimeout(tick, 1000);
  };
  tick();
})()`;
const REMOVE_TICKING_BOX = `document.getElementById('bench-ticking-box')?.remove()`;

/** Opens the CRM page `count` times, each in its own window (all shown), or as tabs of one window (one shown). */
async function openCrmPages(context: BrowserContext, url: string, count: number, windows: boolean): Promise<Page[]> {
  const cdp = await context.newCDPSession(context.pages()[0] ?? (await context.newPage()));
  const pages: Page[] = [];
  for (let i = 0; i < count; i++) {
    const created = context.waitForEvent('page');
    await cdp.send('Target.createTarget', { url, newWindow: windows });
    const page = await created;
    await page.waitForLoadState('load');
    pages.push(page);
  }
  await cdp.detach();
  return pages;
}

export interface CpuFigures {
  seconds: number;
  rows: {
    layout: string;
    tabs: number;
    shown: number;
    none: number;
    idle: number;
    /**
     * Turns, in the same browser and pages, at the same time after the
     * load: the box drawn by the page where each card would be, then the
     * card (or the other way round), one pair a round.
     */
    turns: { box: number; card: number }[];
    byType: Record<string, number>;
  }[];
}

/**
 * One alert on screen in every CRM tab: the browser's CPU (all its processes)
 * without the extension, with Deskbell and no card, and then in turns with a
 * card and with a box the page draws whose text changes as often (what any
 * such text costs on this display), for tabs each in its own window (all
 * visible) and as tabs of one window (one visible). A change costs more on
 * this display some seconds after a load than right after it, and the
 * browser's own background work comes and goes: only turns in one browser
 * tell the card from the box.
 */
export async function benchCardCpu(seconds: number, layouts: { tabs: number; windows: boolean }[], rounds: number, extensionPath?: string): Promise<CpuFigures> {
  if (extensionPath) deskbellArgs = chromiumArgs(extensionPath);
  const rows: CpuFigures['rows'] = [];
  headedDisplay = `:${80 + Math.floor(Math.random() * 9)}`;
  const xvfb = spawn('Xvfb', [headedDisplay, '-screen', '0', '1920x1080x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  await sleep(700);
  try {
    for (const layout of layouts) {
      let none: number;
      {
        const crm = await startCrmSite();
        const plain = await launch('none');
        try {
          await openCrmPages(plain.context, crm.url(), layout.tabs, layout.windows);
          // The least of three readings: ten new windows keep the browser busy for longer than the settling time.
          const readings: number[] = [];
          for (let i = 0; i < 3; i++) {
            await sleep(SETTLE_MS);
            readings.push((await cpuOver(plain.userDataDir, seconds)).percent);
          }
          none = Math.min(...readings);
        } finally {
          await plain.dispose();
          await crm.close();
        }
      }
      // Silent, and no desktop notification: the ringtone and notifications cost what they cost once, whatever the tabs.
      const session = await startSession({ templates: { chat: { sound: false, desktop: 'never' } } });
      try {
        const pages = await openCrmPages(session.context, session.crm.url(), layout.tabs, layout.windows);
        const overlays = pages.map((page) => new OverlayPage(page));
        for (const overlay of overlays) {
          if (!(await waitForAsync(async () => (await overlay.shadowMode()) !== null, 10_000))) throw new Error('bench: no overlay');
        }
        // Under Xvfb the background tabs of a window say they are shown too, so the overlay ticks in them: the box goes wherever a card ticks.
        const states = await Promise.all(pages.map((p) => p.evaluate(() => document.visibilityState)));
        const shown = states.filter((v) => v === 'visible').length;
        const ticking = pages.filter((_, i) => states[i] === 'visible');
        const visible = onScreen(overlays, layout.windows);
        // Finding the overlay through DevTools has the renderer report every later DOM change to it: the card's
        // text changes each second would be charged to the card.
        const measure = async () => {
          for (const overlay of overlays) await overlay.stopFollowingDom();
          await sleep(SETTLE_MS);
          return cpuOver(session.userDataDir, seconds);
        };
        const idle = (await measure()).percent;
        const boxTurn = async () => {
          for (const page of ticking) await page.evaluate(TICKING_BOX);
          const { percent } = await measure();
          for (const page of ticking) await page.evaluate(REMOVE_TICKING_BOX);
          return percent;
        };
        let byType: Record<string, number> = {};
        const cardTurn = async () => {
          const conversation = await session.feed.service.createConversation({ scenario: 'chat', channel: 'chat', customer: { name: 'Maria Jansen' }, comment: 'bench-cpu' });
          for (const overlay of visible) if (!(await waitForAsync(async () => (await overlay.cards()).length === 1, 10_000))) throw new Error('bench: the card never showed');
          const figures = await measure();
          byType = figures.byType;
          // The customer leaves: the offer is withdrawn and the card goes.
          await session.feed.service.endByCustomer(conversation.id);
          for (const overlay of visible) if (!(await waitForAsync(async () => (await overlay.cards()).length === 0, 10_000))) throw new Error('bench: the card stayed');
          return figures.percent;
        };
        const turns: { box: number; card: number }[] = [];
        // Box first in even rounds, card first in odd ones: neither always comes later after the load.
        for (let round = 0; round < rounds; round++) {
          if (round % 2 === 0) {
            const box = await boxTurn();
            turns.push({ box, card: await cardTurn() });
          } else {
            const card = await cardTurn();
            turns.push({ card, box: await boxTurn() });
          }
        }
        rows.push({ layout: layout.windows ? 'windows' : 'tabs of one window', tabs: layout.tabs, shown, none, idle, turns, byType });
      } finally {
        await session.close();
      }
    }
  } finally {
    deskbellArgs = CHROMIUM_ARGS;
    headedDisplay = undefined;
    xvfb.kill();
  }
  return { seconds, rows };
}
