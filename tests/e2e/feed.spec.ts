import { expect, test } from './fixtures';

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
