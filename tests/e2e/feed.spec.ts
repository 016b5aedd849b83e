import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type NodeProcess, startNodeProcess } from '../../server/fakes/node-process';
import { startPostgres } from '../../server/fakes/postgres';
import { AGENT, API_KEY, expect, test } from './fixtures';
import { OverlayPage } from './overlay-page';
import { PanelPage } from './panel-page';

const chat = (name: string) => ({ scenario: 'chat', customer: { name }, comment: `Question from ${name}` });

test('a frame sent by the feed server reaches the extension', async ({ extension, feed }) => {
  await extension.configureFeed(feed.url);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
  const { body } = await feed.createConversation(chat('Maria Jansen'));
  await expect
    .poll(async () => Object.values((await extension.feedState())?.offers ?? {}).map((o) => o.conversation.id))
    .toEqual([body.conversation.id]);
  const offer = Object.values((await extension.feedState()).offers)[0]!;
  expect(offer).toMatchObject({ status: 'offered', conversation: { customer: { name: 'Maria Jansen' }, comment: 'Question from Maria Jansen' } });
});

test('the extension resumes after the feed server is killed mid-stream, with every event exactly once', async ({ extension, feed }) => {
  await extension.configureFeed(feed.url);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');

  // A steady stream of conversations; the server dies and comes back in the middle of it.
  let created = 0;
  let stop = false;
  const stream = (async () => {
    while (!stop) {
      const ok = await feed
        .createConversation(chat(`Customer ${created + 1}`))
        .then((r) => r.status === 201)
        .catch(() => false);
      if (ok) created++;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  await expect.poll(() => created).toBeGreaterThanOrEqual(10);
  await feed.restart(300);
  // Some events are logged while the extension is still reconnecting: they must arrive on resume.
  await expect.poll(() => created).toBeGreaterThanOrEqual(30);
  stop = true;
  await stream;

  // Conversations created while the extension was away are offered once it is back.
  await expect.poll(async () => (await feed.api<{ lastSeq: number }>('GET', '/api/agents/agent-1')).body.lastSeq, { timeout: 20_000 }).toBe(created);
  await expect.poll(async () => (await extension.diagnostics()).journal.length, { timeout: 20_000 }).toBe(created);

  const { journal, connection } = await extension.diagnostics();
  expect(journal.map((e) => e.seq)).toEqual(Array.from({ length: created }, (_, i) => i + 1));
  expect(new Set(journal.map((e) => e.id)).size).toBe(created);
  expect(connection.status).toBe('open');
  expect(feed.server.stats.resumes).toBeGreaterThanOrEqual(1);
  const state = await extension.feedState();
  expect(Object.keys(state.offers)).toHaveLength(created);
});

test('two feed nodes on PostgreSQL: the agent\'s node is killed (SIGKILL) mid-stream; the extension moves to the other, every offer shows once, and the one on screen is still answerable', async ({ context, extension, crm }) => {
  const postgres = await startPostgres();
  const dir = mkdtempSync(path.join(tmpdir(), 'deskbell-nodes-'));
  const nodes: NodeProcess[] = [];
  try {
    writeFileSync(path.join(dir, 'agents.json'), JSON.stringify([AGENT]));
    const store = await postgres.database('e2e_nodes');
    for (const name of ['node-a', 'node-b']) {
      nodes.push(await startNodeProcess(['--store', store, '--node-id', name, '--agents', path.join(dir, 'agents.json'), '--api-key', API_KEY, '--offer-timeout', '120']));
    }
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const create = async (name: string) => {
      const res = await fetch(`${b.httpUrl}/api/conversations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(chat(name)),
      });
      return res.status === 201 ? ((await res.json()) as { conversation: { id: string } }).conversation.id : undefined;
    };
    // As an admin writes it on the options page: one node per line.
    await extension.configureFeed(`${a.feedUrl}\n${b.feedUrl}`);
    await expect.poll(async () => (await extension.diagnostics())?.connection).toMatchObject({ status: 'open', node: a.feedUrl });
    const page = await context.newPage();
    await page.goto(crm.url());
    const overlay = new OverlayPage(page);
    const first = (await create('On Screen'))!;
    await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['On Screen']);

    // Conversations keep coming in through node b while the agent's node a is killed.
    let created = 1;
    let stop = false;
    const stream = (async () => {
      while (!stop) {
        if (await create(`Customer ${created + 1}`)) created++;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    await expect.poll(() => created).toBeGreaterThanOrEqual(6);
    await a.kill();
    await expect.poll(() => created).toBeGreaterThanOrEqual(16);
    stop = true;
    await stream;

    await expect.poll(async () => (await extension.diagnostics())?.connection, { timeout: 20_000 }).toMatchObject({ status: 'open', node: b.feedUrl });
    await expect.poll(async () => (await extension.diagnostics()).journal.length, { timeout: 20_000 }).toBe(created);
    const { journal } = await extension.diagnostics();
    expect(journal.map((e) => e.seq)).toEqual(Array.from({ length: created }, (_, i) => i + 1));
    expect(new Set(journal.map((e) => e.id)).size).toBe(created);
    const offers = Object.values((await extension.feedState()).offers);
    expect(offers).toHaveLength(created);

    // The alert that was up when the node died is answered through the other node.
    const offerId = offers.find((o) => o.conversation.id === first)!.offerId;
    expect((await overlay.cards()).filter((c) => c.customer === 'On Screen').map((c) => c.id)).toEqual([offerId]);
    await overlay.click('button.accept', offerId);
    await expect
      .poll(async () => ((await (await fetch(`${b.httpUrl}/api/conversations/${first}`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as { conversation: { status: string } }).conversation.status)
      .toBe('active');
    await expect.poll(async () => Object.keys((await extension.feedState()).sessions)).toEqual([first]);
    // Which node the agent is on is for diagnostics only.
    const options = await context.newPage();
    await options.goto(`chrome-extension://${extension.id}/options.html`);
    await expect(options.locator('[data-diag=node]')).toHaveText(b.feedUrl);
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('storage.session full: the agent keeps every message, and a restarted worker gets the older ones back from the feed', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { chat: { autoAccept: true } } });
  await extension.configureFeed(feed.url);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
  const page = await context.newPage();
  await page.goto(crm.url());
  const { body } = await feed.createConversation(chat('Maria Jansen'));
  const id = body.conversation.id;
  await expect.poll(async () => Object.keys((await extension.feedState())?.sessions ?? {})).toEqual([id]);

  // Something else has filled storage.session to within 250 KB of its quota.
  const panel = await PanelPage.open(context, extension.id);
  await panel.page.evaluate(() => chrome.storage.session.set({ filler: 'x'.repeat(chrome.storage.session.QUOTA_BYTES - 250_000) }));
  // 600 messages of 500 characters: the whole state no longer fits, its latest 200 messages do.
  const count = 600;
  for (let i = 1; i <= count; i++) {
    await feed.api('POST', `/api/conversations/${id}/messages`, { text: `message ${i} `.padEnd(500, '.') });
  }
  await expect(panel.messages()).toHaveCount(count + 1);
  // Each of the last events is stored twice (whole, refused; then compacted): on a slow machine the worker
  // may still be at it when the panel shows the last message, so the wait is generous. If it ever fails,
  // what the worker had recorded is printed with the failure.
  try {
    await expect.poll(async () => (await extension.diagnostics()).lastStorageError ?? '', { timeout: 30_000 }).toContain('stored with only the latest messages');
  } catch (error) {
    const diag = await extension.diagnostics();
    const stored = await extension.feedState();
    console.log('diagnostics:', JSON.stringify({ ...diag, journal: diag?.journal.slice(-5) }));
    console.log('stored session:', JSON.stringify({ truncated: stored?.sessions[id]?.truncated, messages: stored?.sessions[id]?.transcript.length }));
    throw error;
  }
  expect((await extension.feedState()).sessions[id]).toMatchObject({ truncated: true, transcript: { length: 200 } });

  // The worker restarts from the compacted copy and asks the feed for the whole conversation again.
  await extension.killWorker();
  await expect.poll(() => feed.server.stats.connections).toBeGreaterThanOrEqual(2);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
  expect(feed.server.stats.resumes).toBe(0);
  // A message after the restart: the panel now shows what the new worker holds, every message.
  await feed.api('POST', `/api/conversations/${id}/messages`, { text: 'after the restart' });
  await expect(panel.messages()).toHaveCount(count + 2);
  await expect(panel.messages().nth(1)).toContainText('message 1 ');
  await expect(panel.messages().last()).toContainText('after the restart');
});

test('a deadline that passes while the worker is stopped: its alarm wakes the worker, which expires the offer with no tab open', async ({ context, extension, feed }) => {
  await extension.updateSettings({ templates: { chat: { timeoutSec: 4, sound: false, desktop: 'never' } } });
  await extension.configureFeed(feed.url);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
  await feed.createConversation(chat('Maria Jansen'));
  await expect.poll(async () => Object.values((await extension.feedState())?.offers ?? {}).map((o) => o.status)).toEqual(['offered']);
  const { deadline } = Object.values((await extension.feedState()).offers)[0]!;

  // No extension page and no CRM tab left to wake it: only the deadline alarm can.
  for (const page of context.pages()) if (page.url().startsWith('chrome-extension://')) await page.close();
  const blank = await context.newPage();
  const cdp = await context.newCDPSession(blank);
  const workers = async () =>
    (await cdp.send('Target.getTargets')).targetInfos.filter((t) => t.type === 'service_worker' && t.url.startsWith(`chrome-extension://${extension.id}/`));
  const [running] = await workers();
  await cdp.send('Target.closeTarget', { targetId: running!.targetId });
  await expect.poll(async () => (await workers()).length).toBe(0);
  expect(Date.now()).toBeLessThan(deadline);

  await expect.poll(async () => (await workers()).length, { timeout: 15_000 }).toBe(1);
  expect(Date.now()).toBeGreaterThanOrEqual(deadline - 1000);
  const worker = await extension.worker();
  await expect
    .poll(() =>
      worker.evaluate(async () => {
        const state = (await chrome.storage.session.get('feedState'))['feedState'] as { offers: Record<string, { status: string }> };
        return Object.values(state.offers).map((o) => o.status);
      }),
    )
    .toEqual(['expired']);
});
