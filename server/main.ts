/**
 * `npm run server` / `npm run simulate`: the reference feed server from the
 * command line. Flags override environment variables. Without `--demo` there
 * is no built-in agent or API key: agents come from `--agents`, and the API
 * key from `--api-key`, `DESKBELL_API_KEY`, or a random one made on first
 * start and kept in the data directory (printed once).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import type { Logger } from './logger.ts';
import { startFeedServer } from './feed-server.ts';
import { DEMO_AGENT, DEMO_API_KEY } from './demo-agent.ts';
import { runSimulator } from './simulator.ts';
import { ROUTING_MODES, SCENARIOS } from '../protocol/feed.ts';

/** `--routing routing.json`: per scenario, offered (alert) or assigned (toast), and the offer time. */
const RoutingFile = v.record(
  v.picklist(SCENARIOS),
  v.strictObject({ mode: v.optional(v.picklist(ROUTING_MODES)), offerTimeoutSec: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(600))) }),
);

const AgentsFile = v.array(
  v.object({
    id: v.pipe(v.string(), v.minLength(1)),
    name: v.pipe(v.string(), v.minLength(1)),
    token: v.string(),
    capacity: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  }),
);


const { values } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.DESKBELL_HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.DESKBELL_PORT ?? '8787' },
    'data-dir': { type: 'string', default: process.env.DESKBELL_DATA_DIR ?? '.data' },
    agents: { type: 'string', default: process.env.DESKBELL_AGENTS_FILE },
    'api-key': { type: 'string', default: process.env.DESKBELL_API_KEY },
    demo: { type: 'boolean', default: false },
    'offer-timeout': { type: 'string', default: process.env.DESKBELL_OFFER_TIMEOUT ?? '30' },
    routing: { type: 'string', default: process.env.DESKBELL_ROUTING_FILE },
    'sms-auth-token': { type: 'string', default: process.env.DESKBELL_SMS_AUTH_TOKEN },
    'sms-public-url': { type: 'string', default: process.env.DESKBELL_SMS_PUBLIC_URL },
    'messenger-app-secret': { type: 'string', default: process.env.DESKBELL_MESSENGER_APP_SECRET },
    'messenger-verify-token': { type: 'string', default: process.env.DESKBELL_MESSENGER_VERIFY_TOKEN },
    simulate: { type: 'boolean', default: false },
    'simulate-every': { type: 'string', default: '20' },
    quiet: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(`deskbell-feed: ${message}`);
  process.exit(2);
}

/** A JSON file an operator wrote, checked against its schema; any problem ends the start with a message. */
function readConfig<T>(file: string, what: string, schema: v.GenericSchema<unknown, T>): T {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    fail(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
  const result = v.safeParse(schema, json);
  if (!result.success) fail(`${what} ${file}: ${v.summarize(result.issues)}`);
  return result.output;
}

function loadAgents() {
  if (!values.agents) {
    if (values.demo) return [DEMO_AGENT];
    fail('no agents: pass --agents agents.json (or DESKBELL_AGENTS_FILE; see docs/admin.md), or --demo for the public demo agent');
  }
  const agents = readConfig(values.agents, 'agents file', AgentsFile);
  return values.demo ? [...agents, DEMO_AGENT] : agents;
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, got ${values.port}`);
const offerTimeoutSec = Number(values['offer-timeout']);
if (!Number.isInteger(offerTimeoutSec) || offerTimeoutSec < 5) fail('--offer-timeout must be a whole number of seconds, at least 5');

const logger: Logger = values.quiet
  ? { info() {}, warn: (msg, data) => console.error(JSON.stringify({ level: 'warn', msg, ...data })) }
  : {
      info: (msg, data) => console.log(JSON.stringify({ level: 'info', msg, ...data })),
      warn: (msg, data) => console.error(JSON.stringify({ level: 'warn', msg, ...data })),
    };

if (values.demo && !['127.0.0.1', 'localhost', '::1'].includes(values.host!)) {
  fail(`--demo has a public agent token and API key: it listens on loopback only, not ${values.host}`);
}
const agents = loadAgents();
if (!!values['sms-auth-token'] !== !!values['sms-public-url']) fail('--sms-auth-token and --sms-public-url go together');
if (!!values['messenger-app-secret'] !== !!values['messenger-verify-token']) fail('--messenger-app-secret and --messenger-verify-token go together');
const channels = {
  ...(values['sms-auth-token'] ? { sms: { authToken: values['sms-auth-token'], publicUrl: values['sms-public-url']! } } : {}),
  ...(values['messenger-app-secret'] ? { messenger: { appSecret: values['messenger-app-secret'], verifyToken: values['messenger-verify-token']! } } : {}),
};
let server: Awaited<ReturnType<typeof startFeedServer>>;
try {
  server = await startFeedServer({
    host: values.host,
    port,
    dataDir: values['data-dir'],
    agents,
    ...(values['api-key'] ? { apiKey: values['api-key'] } : values.demo ? { apiKey: DEMO_API_KEY } : {}),
    offerTimeoutSec,
    ...(values.routing ? { routing: readConfig(values.routing, 'routing file', RoutingFile) } : {}),
    channels,
    logger,
  });
} catch (error) {
  fail((error as Error).message);
}
console.log(`Deskbell feed server on ${server.httpUrl}  (agents' WebSocket: ${server.feedUrl})`);
console.log(`Web chat for customers: ${server.httpUrl}/chat`);
console.log(`Channels: SMS webhook ${channels.sms ? 'on' : 'off'}, Messenger webhook ${channels.messenger ? 'on' : 'off'}`);
console.log(`Agents: ${agents.length}${values.agents ? ` from ${values.agents}` : ''}`);
const routed = Object.entries(server.service.routing);
console.log(`Offered (alert): ${routed.filter(([, r]) => r.mode === 'offer').map(([s, r]) => `${s} ${r.offerTimeoutSec} s`).join(', ') || 'none'}`);
console.log(`Assigned (toast): ${routed.filter(([, r]) => r.mode === 'assign').map(([s]) => s).join(', ') || 'none'}`);
if (values.demo) {
  console.log(`DEMO MODE: public agent "${DEMO_AGENT.name}" (token ${DEMO_AGENT.token}) and API key ${server.apiKey.value}. Never use --demo on a server others can reach.`);
} else if (server.apiKey.created) {
  console.log(`API key (shown once${server.apiKey.file ? `; kept in ${server.apiKey.file}, mode 600` : ''}): ${server.apiKey.value}`);
} else if (server.apiKey.file) {
  console.log(`API key: kept in ${server.apiKey.file}`);
}

const controller = new AbortController();
if (values.simulate) {
  const everySec = Number(values['simulate-every']);
  void runSimulator({ apiUrl: server.httpUrl, apiKey: server.apiKey.value, everySec, signal: controller.signal });
  console.log(`Simulator: a new conversation about every ${everySec} s`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    controller.abort();
    void server.close().then(() => process.exit(0));
  });
}
