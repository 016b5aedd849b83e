/**
 * Property-based fuzzing of the feed server as operators run it: the CLI in a
 * process of its own, fed generated request lines, headers, bodies and
 * WebSocket frames over raw sockets. After every batch `/healthz` must answer
 * 200 and the process must still be running: no input ends it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const API_KEY = 'fuzz-api-key-0123456789abcdef';
const AGENT = { id: 'a1', name: 'Fuzz Agent', token: 'fuzz-agent-token-0123456789' };

let child: ChildProcess;
let port = 0;
let stderr = '';
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'deskbell-fuzz-'));
  writeFileSync(path.join(dir, 'agents.json'), JSON.stringify([AGENT]));
  child = spawn(
    process.execPath,
    ['--import', 'tsx', 'server/main.ts', '--port', '0', '--data-dir', path.join(dir, 'data'), '--agents', path.join(dir, 'agents.json'), '--api-key', API_KEY, '--quiet',
      '--sms-auth-token', 'fuzz-sms-token', '--sms-public-url', 'https://feed.example.com/webhooks/sms', '--messenger-app-secret', 'fuzz-secret', '--messenger-verify-token', 'fuzz-verify'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /feed server on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}, 30_000);

afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function alive(): Promise<void> {
  expect(child.exitCode, `server died: ${stderr.slice(-2000)}`).toBeNull();
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  expect(res.status).toBe(200);
}

/** Writes raw bytes, reads until the server closes or `waitMs` passes. */
function rawExchange(bytes: Buffer, waitMs = 150): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', () => {});
    socket.write(bytes, () => setTimeout(done, waitMs));
  });
}

const ROUTES = [
  '/', '/healthz', '/chat', '/feed', '/api/queue', '/api/conversations', '/api/conversations/x', '/api/conversations/x/messages',
  '/api/conversations/x/end', '/api/agents/a1', '/webhooks/sms', '/webhooks/sms/status', '/webhooks/messenger', '/webhooks/messenger?hub.mode=subscribe&hub.verify_token=x&hub.challenge=y',
  '/webchat/conversations', '/webchat/conversations/x/messages', '/webchat/conversations/x/events?token=y', '/webchat/conversations/x/end',
];
const weird = fc.constantFrom('//%5B', 'http://[', '//', '/%', '/%%', '/%ZZ', '/..%2f..%2f', '*', '/\u0000', 'http://127.0.0.1:1/api/queue', '/?a=%E0%A4%A', '//evil.example/api/queue', '/\uFFFF');
const target = fc.oneof(
  fc.constantFrom(...ROUTES),
  weird,
  fc.tuple(fc.constantFrom(...ROUTES), fc.string({ maxLength: 30 })).map(([r, tail]) => r + encodeURI(tail).replace(/%25/g, '%')),
  fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n ]/g, '')),
);
const method = fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'CONNECT', 'TRACE'), fc.stringMatching(/^[A-Z!#$%&'*+.^_`|~-]{1,12}$/));
const contentType = fc.constantFrom('application/json', 'Application/JSON; charset=utf-8', 'text/plain;charset=application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', ';;;', 'application/json;');
const jsonBody = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.record({ scenario: fc.constantFrom('chat', 'sms', 'pigeon'), customer: fc.record({ name: fc.string({ maxLength: 300, unit: 'binary' }), phone: fc.option(fc.string({ maxLength: 60 })) }), comment: fc.option(fc.string({ maxLength: 100 })) }).map((o) => JSON.stringify(o)),
  fc.record({ name: fc.string({ unit: 'binary', maxLength: 50 }), question: fc.string({ maxLength: 50 }), text: fc.string({ maxLength: 50 }) }).map((o) => JSON.stringify(o)),
);
const formBody = fc.dictionary(fc.constantFrom('From', 'To', 'Body', 'MessageSid', 'NumMedia', 'MediaUrl0', 'MediaContentType0', 'x'), fc.string({ maxLength: 80, unit: 'binary' })).map((d) => new URLSearchParams(d).toString());
const body = fc.oneof(jsonBody, formBody, fc.string({ maxLength: 200, unit: 'binary' }), fc.constant(''));
const header = fc.oneof(
  contentType.map((v) => `Content-Type: ${v}`),
  fc.constantFrom(`Authorization: Bearer ${API_KEY}`, 'Authorization: Bearer nope', 'Authorization: Basic x', 'Authorization:'),
  fc.constantFrom('Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Content-Length: -1', 'Content-Length: 99999999999', 'Content-Length: abc', 'Expect: 100-continue'),
  fc.constantFrom('Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: x', 'Sec-WebSocket-Version: 13', 'X-Twilio-Signature: abc', 'X-Hub-Signature-256: sha256=00'),
  fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,20}$/), fc.string({ maxLength: 40 }).map((v) => v.replace(/[\r\n]/g, ''))).map(([k, v]) => `${k}: ${v}`),
);
const request = fc.record({ method, target, version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra', ''), headers: fc.array(header, { maxLength: 6 }), body, length: fc.constantFrom('exact', 'none', 'short') }).map((r) => {
  const bytes = Buffer.from(r.body, 'utf8');
  const lines = [`${r.method} ${r.target} ${r.version}`.trimEnd(), 'Host: 127.0.0.1', ...r.headers];
  if (r.length === 'exact') lines.push(`Content-Length: ${bytes.length}`);
  if (r.length === 'short') lines.push(`Content-Length: ${Math.max(0, bytes.length - 3)}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), bytes]);
});

const id = fc.oneof(fc.string({ maxLength: 10 }), fc.constant('x'.repeat(200)), fc.integer());
const frame = fc.oneof(
  fc.record({ type: fc.constantFrom('hello', 'accept', 'reject', 'send', 'end', 'presence', 'ack', 'ping', 'nope'), v: fc.oneof(fc.constant(1), fc.integer()), token: fc.oneof(fc.constant(AGENT.token), fc.string()), resumeFrom: fc.oneof(fc.nat(), fc.integer(), fc.double()), presence: fc.constantFrom('available', 'busy', 'x'), client: fc.oneof(fc.constant({ name: 'f', version: '1' }), fc.anything()), offerId: id, conversationId: id, clientMsgId: id, text: fc.string({ maxLength: 100 }), reason: fc.string(), seq: fc.oneof(fc.nat(), fc.integer({ min: -5, max: 1e9 })), t: fc.oneof(fc.nat(), fc.double()) }, { requiredKeys: ['type'] }).map((f) => JSON.stringify(f)),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200, unit: 'binary' }),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
);
const validHello = JSON.stringify({ type: 'hello', v: 1, token: AGENT.token, resumeFrom: 0, presence: 'available', client: { name: 'fuzz', version: '1' } });

describe('fuzzing the running server', () => {
  it('answers every generated HTTP request without ending; /healthz stays 200 after each batch', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), async (batch) => {
        await Promise.all(batch.map((bytes) => rawExchange(bytes)));
        await alive();
      }),
      { numRuns: 120, interruptAfterTimeLimit: 60_000 },
    );
    for (const line of ['GET //%5B HTTP/1.1', 'GET http://[ HTTP/1.1']) await rawExchange(Buffer.from(`${line}\r\nHost: x\r\n\r\n`));
    await alive();
  }, 120_000);

  it('takes any sequence of WebSocket frames, signed in or not, without ending', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(frame, { minLength: 1, maxLength: 8 }), async (signIn, frames) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/feed`);
        await new Promise<void>((resolve) => {
          socket.once('open', () => resolve());
          socket.once('error', () => resolve());
        });
        if (socket.readyState === WebSocket.OPEN) {
          if (signIn) socket.send(validHello);
          for (const f of frames) if (socket.readyState === WebSocket.OPEN) socket.send(f);
          await new Promise((r) => setTimeout(r, 30));
        }
        socket.terminate();
        await alive();
      }),
      { numRuns: 120, interruptAfterTimeLimit: 60_000 },
    );
  }, 120_000);
});
