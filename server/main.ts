/**
 * `npm run server` / `npm run simulate`: the reference feed server from the
 * command line. Flags override environment variables. Without `--demo` there
 * is no built-in agent or API key: agents come from `--agents`, and the API
 * key from `--api-key`, `DESKBELL_API_KEY`, or a random one made on first
 * start and kept in the data directory (printed once).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import * as v from 'valibot';
import type { Logger } from './logger.ts';
import { startFeedServer } from './feed-server.ts';
import { redact } from './store-postgres.ts';
import { DEMO_AGENT, DEMO_API_KEY } from './demo-agent.ts';
import { runSimulator } from './simulator.ts';
import { ROUTING_MODES, SCENARIOS } from '../protocol/feed.ts';
import { type ChannelSender, MessengerSender, type OutboundChannel, TwilioSmsSender } from './channels/outbound.ts';
import { smsStatusUrl } from './channels/webhooks.ts';
import { checkSignInOptions, type SignInOptions } from './sign-in.ts';

/** `--routing routing.json`: per scenario, offered (alert) or assigned (toast), and the offer time. */
const RoutingFile = v.record(
  v.picklist(SCENARIOS),
  v.strictObject({ mode: v.optional(v.picklist(ROUTING_MODES)), offerTimeoutSec: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(600))) }),
);

const AgentsFile = v.array(
  v.object({
    id: v.pipe(v.string(), v.minLength(1)),
    name: v.pipe(v.string(), v.minLength(1)),
    token: v.optional(v.string()),
    /** With sign-in: the value of the login claim (usually the e-mail address) that is this agent. */
    login: v.optional(v.pipe(v.string(), v.minLength(1))),
    queues: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
    capacity: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  }),
);

/** `--oidc-group-queues groups.json`: a group (or role) claim value → the queues its members take. */
const GroupQueuesFile = v.record(v.pipe(v.string(), v.minLength(1)), v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(200))));


const { values } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.DESKBELL_HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.DESKBELL_PORT ?? '8787' },
    'data-dir': { type: 'string', default: process.env.DESKBELL_DATA_DIR ?? '.data' },
    // postgres://…: the feed's state in PostgreSQL instead of the data directory (several servers may share it).
    store: { type: 'string', default: process.env.DESKBELL_STORE },
    // With --store: this node's name among the servers on that database (default: random at each start).
    'node-id': { type: 'string', default: process.env.DESKBELL_NODE_ID },
    agents: { type: 'string', default: process.env.DESKBELL_AGENTS_FILE },
    'api-key': { type: 'string', default: process.env.DESKBELL_API_KEY },
    demo: { type: 'boolean', default: false },
    'offer-timeout': { type: 'string', default: process.env.DESKBELL_OFFER_TIMEOUT ?? '30' },
    routing: { type: 'string', default: process.env.DESKBELL_ROUTING_FILE },
    'sms-auth-token': { type: 'string', default: process.env.DESKBELL_SMS_AUTH_TOKEN },
    'sms-public-url': { type: 'string', default: process.env.DESKBELL_SMS_PUBLIC_URL },
    'messenger-app-secret': { type: 'string', default: process.env.DESKBELL_MESSENGER_APP_SECRET },
    'messenger-verify-token': { type: 'string', default: process.env.DESKBELL_MESSENGER_VERIFY_TOKEN },
    // Replies: SMS through Twilio's Messages API, Messenger through the Send API.
    'twilio-account-sid': { type: 'string', default: process.env.DESKBELL_TWILIO_ACCOUNT_SID },
    'twilio-api-key': { type: 'string', default: process.env.DESKBELL_TWILIO_API_KEY },
    'twilio-api-secret': { type: 'string', default: process.env.DESKBELL_TWILIO_API_SECRET },
    'sms-from': { type: 'string', default: process.env.DESKBELL_SMS_FROM },
    'sms-messaging-service': { type: 'string', default: process.env.DESKBELL_SMS_MESSAGING_SERVICE },
    'twilio-api-url': { type: 'string', default: process.env.DESKBELL_TWILIO_API_URL },
    'messenger-page-token': { type: 'string', default: process.env.DESKBELL_MESSENGER_PAGE_TOKEN },
    'messenger-graph-url': { type: 'string', default: process.env.DESKBELL_MESSENGER_GRAPH_URL },
    // Sign-in with the organisation's identity provider (OpenID Connect).
    'oidc-issuer': { type: 'string', default: process.env.DESKBELL_OIDC_ISSUER },
    'oidc-client-id': { type: 'string', default: process.env.DESKBELL_OIDC_CLIENT_ID },
    'oidc-audience': { type: 'string', default: process.env.DESKBELL_OIDC_AUDIENCE },
    'oidc-login-claim': { type: 'string', default: process.env.DESKBELL_OIDC_LOGIN_CLAIM },
    'oidc-provision': { type: 'boolean', default: process.env.DESKBELL_OIDC_PROVISION === '1' },
    'oidc-groups-claim': { type: 'string', default: process.env.DESKBELL_OIDC_GROUPS_CLAIM },
    'oidc-group-queues': { type: 'string', default: process.env.DESKBELL_OIDC_GROUP_QUEUES_FILE },
    'oidc-clock-tolerance': { type: 'string', default: process.env.DESKBELL_OIDC_CLOCK_TOLERANCE },
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

/** Sign-in settings from the flags, or undefined when no issuer is set; half a configuration ends the start. */
function signInOptions(): SignInOptions | undefined {
  const issuer = values['oidc-issuer'];
  const oidcFlags = ['oidc-client-id', 'oidc-audience', 'oidc-login-claim', 'oidc-groups-claim', 'oidc-group-queues', 'oidc-clock-tolerance'] as const;
  if (!issuer) {
    const stray = [...oidcFlags.filter((f) => values[f] !== undefined), ...(values['oidc-provision'] ? ['oidc-provision'] : [])];
    if (stray.length > 0) fail(`--${stray.join(', --')} ${stray.length === 1 ? 'needs' : 'need'} --oidc-issuer`);
    return undefined;
  }
  if (!values['oidc-client-id']) fail('--oidc-issuer needs --oidc-client-id: the client id Deskbell has at the provider');
  const tolerance = values['oidc-clock-tolerance'] === undefined ? undefined : Number(values['oidc-clock-tolerance']);
  if (tolerance !== undefined && !(Number.isInteger(tolerance) && tolerance >= 0 && tolerance <= 600)) fail('--oidc-clock-tolerance must be 0 to 600 seconds');
  const options: SignInOptions = {
    issuer,
    audiences: [values['oidc-client-id'], ...(values['oidc-audience']?.split(',').map((a) => a.trim()).filter(Boolean) ?? [])],
    provision: values['oidc-provision'],
    ...(values['oidc-login-claim'] ? { loginClaim: values['oidc-login-claim'] } : {}),
    ...(values['oidc-groups-claim'] ? { groupsClaim: values['oidc-groups-claim'] } : {}),
    ...(values['oidc-group-queues'] ? { groupQueues: readConfig(values['oidc-group-queues'], 'group queues file', GroupQueuesFile) } : {}),
    ...(tolerance !== undefined ? { clockToleranceSec: tolerance } : {}),
  };
  try {
    checkSignInOptions(options);
  } catch (error) {
    fail((error as Error).message);
  }
  return options;
}
const signIn = signInOptions();

function loadAgents() {
  if (!values.agents) {
    if (values.demo) return [DEMO_AGENT];
    if (signIn?.provision) return [];
    fail('no agents: pass --agents agents.json (or DESKBELL_AGENTS_FILE; see docs/admin.md), --oidc-provision with sign-in, or --demo for the public demo agent');
  }
  const agents = readConfig(values.agents, 'agents file', AgentsFile);
  return values.demo ? [...agents, DEMO_AGENT] : agents;
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, got ${values.port}`);
const offerTimeoutSec = Number(values['offer-timeout']);
if (!Number.isInteger(offerTimeoutSec) || offerTimeoutSec < 5) fail('--offer-timeout must be a whole number of seconds, at least 5');

/** Structured JSON lines (pino) on stderr, so stdout keeps the start-up summary; --quiet: warnings only. */
const log = pino({ level: values.quiet ? 'warn' : 'info', base: { service: 'deskbell-feed', ...(values['node-id'] ? { node: values['node-id'] } : {}) } }, pino.destination(2));
const logger: Logger = {
  info: (msg, data) => log.info(data ?? {}, msg),
  warn: (msg, data) => log.warn(data ?? {}, msg),
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
/**
 * The reply senders the flags configure. Half a configuration is refused with
 * every missing piece named: a server that takes SMS but cannot answer them
 * would leave customers waiting without anyone noticing.
 */
function replySenders(): Partial<Record<OutboundChannel, ChannelSender>> {
  const problems: string[] = [];
  const senders: Partial<Record<OutboundChannel, ChannelSender>> = {};
  const sid = values['twilio-account-sid'];
  const smsSet = ['twilio-account-sid', 'twilio-api-key', 'twilio-api-secret', 'sms-from', 'sms-messaging-service', 'twilio-api-url'].filter((k) => values[k as keyof typeof values]);
  if (smsSet.length > 0) {
    if (!sid) problems.push(`--${smsSet[0]} needs --twilio-account-sid (AC…)`);
    else if (!/^AC[0-9a-fA-F]{32}$/.test(sid)) problems.push('--twilio-account-sid is an account SID: AC and 32 hex digits');
    if (!!values['twilio-api-key'] !== !!values['twilio-api-secret']) problems.push('--twilio-api-key and --twilio-api-secret go together');
    if (values['twilio-api-key'] && !/^SK[0-9a-fA-F]{32}$/.test(values['twilio-api-key'])) problems.push('--twilio-api-key is an API key SID: SK and 32 hex digits');
    if (!values['sms-from'] === !values['sms-messaging-service']) problems.push('SMS replies need exactly one of --sms-from (+E.164 number) and --sms-messaging-service (MG…)');
    if (values['sms-from'] && !/^\+[1-9]\d{6,14}$/.test(values['sms-from'])) problems.push('--sms-from is a phone number in E.164 form, e.g. +3197010000000');
    if (values['sms-messaging-service'] && !/^MG[0-9a-fA-F]{32}$/.test(values['sms-messaging-service'])) problems.push('--sms-messaging-service is a Messaging Service SID: MG and 32 hex digits');
    // Twilio's status reports are signed with the account's token and come to the SMS webhook's address.
    if (!values['sms-auth-token'] || !values['sms-public-url']) problems.push('SMS replies need the SMS webhook too (--sms-auth-token, --sms-public-url): their status reports come there');
    if (values['twilio-api-url'] && !URL.canParse(values['twilio-api-url'])) problems.push('--twilio-api-url is not a URL');
    if (problems.length === 0) {
      senders.sms = new TwilioSmsSender({
        accountSid: sid!,
        ...(values['twilio-api-key'] ? { apiKeySid: values['twilio-api-key'], apiKeySecret: values['twilio-api-secret']! } : { authToken: values['sms-auth-token']! }),
        ...(values['sms-from'] ? { from: values['sms-from'] } : { messagingServiceSid: values['sms-messaging-service']! }),
        statusCallback: smsStatusUrl(values['sms-public-url']!),
        ...(values['twilio-api-url'] ? { apiBaseUrl: values['twilio-api-url'] } : {}),
      });
    }
  }
  if (values['messenger-page-token'] || values['messenger-graph-url']) {
    if (!values['messenger-page-token']) problems.push('--messenger-graph-url needs --messenger-page-token');
    // Deliveries, reads and the echoes that settle a reply in doubt come through the webhook.
    if (!values['messenger-app-secret']) problems.push('Messenger replies need the Messenger webhook too (--messenger-app-secret, --messenger-verify-token)');
    if (values['messenger-graph-url'] && !URL.canParse(values['messenger-graph-url'])) problems.push('--messenger-graph-url is not a URL');
    if (problems.length === 0) {
      senders.facebook = new MessengerSender({
        pageAccessToken: values['messenger-page-token']!,
        appSecret: values['messenger-app-secret']!,
        ...(values['messenger-graph-url'] ? { graphUrl: values['messenger-graph-url'] } : {}),
      });
    }
  }
  if (problems.length > 0) fail(`reply senders are half configured:\n  ${problems.join('\n  ')}`);
  return senders;
}
const senders = replySenders();

/** `--store`: empty for SQLite in the data directory, or a PostgreSQL URL. */
function storeUrl(): string | undefined {
  const store = values.store?.trim();
  if (!store) {
    if (values['node-id']) fail('--node-id names a node among several on one PostgreSQL store: it needs --store');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(store);
  } catch {
    fail('--store is a PostgreSQL URL: postgres://user:password@host:5432/database (leave it out for SQLite in --data-dir)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') fail(`--store is a PostgreSQL URL (postgres://…), not ${url.protocol}//`);
  return store;
}
const store = storeUrl();

let server: Awaited<ReturnType<typeof startFeedServer>>;
try {
  server = await startFeedServer({
    host: values.host,
    port,
    dataDir: values['data-dir'],
    ...(store ? { store } : {}),
    ...(values['node-id'] ? { nodeId: values['node-id'] } : {}),
    agents,
    ...(values['api-key'] ? { apiKey: values['api-key'] } : values.demo ? { apiKey: DEMO_API_KEY } : {}),
    offerTimeoutSec,
    ...(values.routing ? { routing: readConfig(values.routing, 'routing file', RoutingFile) } : {}),
    channels,
    senders,
    ...(signIn ? { signIn } : {}),
    logger,
  });
} catch (error) {
  fail((error as Error).message);
}
console.log(`Deskbell feed server on ${server.httpUrl}  (agents' WebSocket: ${server.feedUrl})`);
console.log(`Web chat for customers: ${server.httpUrl}/chat`);
console.log(`Channels: SMS webhook ${channels.sms ? 'on' : 'off'}, Messenger webhook ${channels.messenger ? 'on' : 'off'}`);
console.log(`Replies: ${senders.sms?.description ?? 'SMS off (agents see each SMS reply fail: not configured)'}; ${senders.facebook?.description ?? 'Messenger off (agents see each Messenger reply fail: not configured)'}`);
console.log(`Store: ${store ? `PostgreSQL ${redact(store)}` : `SQLite in ${values['data-dir']}`}`);
console.log(`Agents: ${agents.length}${values.agents ? ` from ${values.agents}` : ''}`);
console.log(
  signIn
    ? `Sign-in: ${signIn.issuer} for client ${signIn.audiences[0]}; agents by their ${signIn.loginClaim ?? 'email'} claim${signIn.provision ? ', new ones provisioned on first sign-in' : ''}${signIn.groupQueues ? `; queues from the ${signIn.groupsClaim ?? 'groups'} claim` : ''}`
    : 'Sign-in: off (agents use static tokens from the agents file)',
);
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
    // Agents move to other nodes first; then the server stops.
    void server
      .drain()
      .then(() => server.close())
      .then(() => process.exit(0));
  });
}
