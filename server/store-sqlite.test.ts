/**
 * What only the SQLite file has: a data file written by an earlier version
 * opens and works. (Runs on SQLite only; the rest of the server suite runs
 * on both stores.)
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startFeedServer } from './feed-server.ts';
import { TestAgent } from './test-agent.ts';

const AGENT = { id: 'a1', name: 'Alex', token: 'sqlite-agent-token-0123456789' };
const API_KEY = 'sqlite-api-key-0123456789abcdef';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

it('opens a data file written before offers had closed_at', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-'));
  cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const old = new Database(path.join(dataDir, 'deskbell-feed.sqlite'));
  old.exec('create table offers (id text primary key, conversation_id text not null, agent_id text not null, offered_at integer not null, expires_at integer not null, state text not null)');
  old.close();
  const s = await startFeedServer({ dataDir, agents: [AGENT], apiKey: API_KEY });
  cleanup.push(() => s.close());
  const a = await TestAgent.connect(s.feedUrl, AGENT.token);
  cleanup.push(() => a.close());
  await a.next('welcome');
  const created = await fetch(`${s.httpUrl}/api/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scenario: 'chat', customer: { name: 'Maria Jansen' }, comment: 'Where is my order?' }),
  });
  expect(created.status).toBe(201);
  const offer = await a.next('offer');
  a.send({ type: 'reject', offerId: offer.offerId });
  expect(await a.next('offer-withdrawn')).toMatchObject({ reason: 'rejected' });
});
