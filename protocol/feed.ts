/**
 * Conversation-feed protocol v1: every frame that crosses the WebSocket, as
 * valibot schemas. The server and the extension both import this module, so
 * the two sides can never disagree on a shape. `docs/protocol.md` is the prose
 * version of the same thing.
 *
 * Frames are JSON text, one object each, discriminated by `type`. Server
 * events that change state carry a per-agent `seq` (1, 2, 3 … with no gaps);
 * replies that do not (welcome, error, pong) carry none.
 */
import * as v from 'valibot';

export const PROTOCOL_VERSION = 1;

/** Largest frame the server accepts from a client, in UTF-16 code units of the raw text. */
export const MAX_CLIENT_FRAME_CHARS = 256 * 1024;
/** The longest token a hello or auth frame may carry. */
export const MAX_TOKEN_CHARS = 16 * 1024;
/**
 * Largest frame a client accepts from the server: an `accepted` event carries
 * the whole transcript, which can be long. The server trims a transcript that
 * would not fit to its newest messages (it never sends a bigger frame).
 */
export const MAX_SERVER_FRAME_CHARS = 16 * 1024 * 1024;

/** Most messages an `accepted` event carries; a longer transcript is sent as its newest messages. */
export const MAX_TRANSCRIPT_MESSAGES = 10_000;

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const EpochMs = v.pipe(v.number(), v.integer(), v.minValue(0));
const Text = (max: number) => v.pipe(v.string(), v.maxLength(max));

/** The seven situations in which an agent is told about a conversation. */
export const SCENARIOS = [
  'chat',
  'sms',
  'facebook',
  'work-item',
  'transfer',
  'escalation',
  'bot-escalation',
] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const ScenarioSchema = v.picklist(SCENARIOS);

/** Where the customer is talking from; transfers and escalations keep theirs. */
export const CHANNELS = ['chat', 'sms', 'facebook', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];
export const ChannelSchema = v.picklist(CHANNELS);

/** The channel a scenario implies when the creator of a conversation names none. */
export const DEFAULT_CHANNEL: Record<Scenario, Channel> = {
  chat: 'chat',
  sms: 'sms',
  facebook: 'facebook',
  'work-item': 'email',
  transfer: 'chat',
  escalation: 'chat',
  'bot-escalation': 'chat',
};

/**
 * How the feed hands a scenario's conversations to agents, decided by the
 * feed per scenario (its own configuration), never by the extension:
 * - `offer`: the agent may accept or reject, until a deadline (an `offer`
 *   event; the extension shows an alert);
 * - `assign`: the conversation is the agent's at once, and nothing re-routes
 *   it (an `assigned` event; the extension shows a toast).
 */
export const ROUTING_MODES = ['offer', 'assign'] as const;
export type RoutingMode = (typeof ROUTING_MODES)[number];
export const ScenarioRoutingSchema = v.object({
  mode: v.picklist(ROUTING_MODES),
  /** `offer` only: how long the agent has to answer; the browser may close it sooner, never later. */
  offerTimeoutSec: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(600)),
});
export type ScenarioRouting = v.InferOutput<typeof ScenarioRoutingSchema>;
/** As a welcome carries it: a feed may leave scenarios out (they are offered). */
export type Routing = Partial<Record<Scenario, ScenarioRouting>>;

/** What a feed does unless configured otherwise, as in Dynamics 365. */
export const DEFAULT_ROUTING: Record<Scenario, ScenarioRouting> = {
  chat: { mode: 'offer', offerTimeoutSec: 30 },
  sms: { mode: 'offer', offerTimeoutSec: 30 },
  facebook: { mode: 'offer', offerTimeoutSec: 30 },
  'work-item': { mode: 'assign', offerTimeoutSec: 30 },
  transfer: { mode: 'assign', offerTimeoutSec: 30 },
  escalation: { mode: 'assign', offerTimeoutSec: 30 },
  'bot-escalation': { mode: 'assign', offerTimeoutSec: 30 },
};

export const PRESENCES = ['available', 'busy', 'away', 'offline'] as const;
export type Presence = (typeof PRESENCES)[number];
export const PresenceSchema = v.picklist(PRESENCES);

export const CustomerSchema = v.object({
  name: Text(200),
  phone: v.optional(Text(40)),
  email: v.optional(Text(320)),
  /** The customer's id in the CRM, when the channel already knows it. */
  crmId: v.optional(Text(128)),
});
export type Customer = v.InferOutput<typeof CustomerSchema>;

export const SENDERS = ['customer', 'agent', 'bot', 'system'] as const;
export type Sender = (typeof SENDERS)[number];

/** Most media one message carries (MMS allows ten). */
export const MAX_MEDIA = 10;

/**
 * A photo, file or other attachment the customer sent. Only its address
 * travels: the side panel shows it as a link the agent may open, and nothing
 * fetches it on its own.
 */
export const MediaSchema = v.object({
  url: v.pipe(v.string(), v.maxLength(2000), v.url(), v.regex(/^https:\/\//i, 'media must be an https address')),
  /** MIME type as the provider gave it, e.g. `image/jpeg`. */
  contentType: v.optional(Text(100)),
});
export type Media = v.InferOutput<typeof MediaSchema>;

/**
 * Where an agent's reply on a provider channel (SMS, Messenger) stands:
 * `queued` at the server, `sent` (the provider took it), `delivered` to the
 * customer's phone or app, `read` (Messenger), or `failed`. Web chat replies
 * reach the customer through the server itself and carry none.
 */
export const DELIVERY_STATES = ['queued', 'sent', 'delivered', 'read', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
export const DeliverySchema = v.object({
  status: v.picklist(DELIVERY_STATES),
  /** When it reached this status (server time). */
  at: EpochMs,
  /** Why it failed: the provider's code and words (e.g. Twilio 21211, Graph 551), or the server's. */
  error: v.optional(v.object({ code: v.optional(Text(50)), text: Text(500) })),
  /** A failed message the agent may send again (Retry): the cause may pass. */
  retryable: v.optional(v.boolean()),
});
export type Delivery = v.InferOutput<typeof DeliverySchema>;

/** Messenger's standard messaging window: a page may answer a customer for this long after their last message. */
export const MESSENGER_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Longest reply each provider channel takes, in UTF-16 code units (Twilio: 1,600 characters; Send API: 2,000). */
export const CHANNEL_TEXT_LIMITS = { sms: 1600, facebook: 2000 } as const;

export const MessageSchema = v.object({
  id: Id,
  conversationId: Id,
  from: v.picklist(SENDERS),
  /** Empty when the message is only media. */
  text: Text(8000),
  media: v.optional(v.pipe(v.array(MediaSchema), v.maxLength(MAX_MEDIA))),
  at: EpochMs,
  /** Echoed for agent messages, so the sender can match its pending copy. */
  clientMsgId: v.optional(Id),
  /** Name shown beside the message (the agent's or the bot's). */
  author: v.optional(Text(200)),
  /** An agent's reply on SMS or Messenger: how far it got to the customer. */
  delivery: v.optional(DeliverySchema),
});
export type Message = v.InferOutput<typeof MessageSchema>;

/** Why the conversation is being offered, beyond its scenario. */
export const OfferContextSchema = v.object({
  /** Transfer: who handed it over. */
  fromAgent: v.optional(Text(200)),
  /** Transfer or escalation: why. */
  reason: v.optional(Text(1000)),
  /** Bot escalation: what the customer and the bot said before. */
  botTranscript: v.optional(v.pipe(v.array(MessageSchema), v.maxLength(200))),
});
export type OfferContext = v.InferOutput<typeof OfferContextSchema>;

export const ConversationSchema = v.object({
  id: Id,
  scenario: ScenarioSchema,
  channel: ChannelSchema,
  customer: CustomerSchema,
  /** Pre-chat answer, SMS body, work-item note: what the customer wants. */
  comment: Text(4000),
  queue: v.optional(Text(200)),
  /** When the customer started waiting; the UI shows the wait time live from it. */
  waitingSince: EpochMs,
  context: v.optional(OfferContextSchema),
  status: v.picklist(['waiting', 'offered', 'active', 'ended']),
});
export type Conversation = v.InferOutput<typeof ConversationSchema>;

// ---------------------------------------------------------------------------
// Client → server

export const HelloFrame = v.object({
  type: v.literal('hello'),
  v: v.literal(PROTOCOL_VERSION),
  /** A static agent token, or the ID token of the agent's sign-in (a JWT; provider tokens with many groups run to kilobytes). */
  token: Text(MAX_TOKEN_CHARS),
  /** Last `seq` the client has handled; 0 for a fresh session. */
  resumeFrom: v.pipe(v.number(), v.integer(), v.minValue(0)),
  presence: PresenceSchema,
  client: v.object({ name: Text(100), version: Text(50) }),
});
export const AcceptFrame = v.object({ type: v.literal('accept'), offerId: Id });
export const RejectFrame = v.object({
  type: v.literal('reject'),
  offerId: Id,
  reason: v.optional(Text(200)),
});
export const SendFrame = v.object({
  type: v.literal('send'),
  conversationId: Id,
  clientMsgId: Id,
  text: v.pipe(v.string(), v.minLength(1), v.maxLength(8000)),
});
export const EndFrame = v.object({ type: v.literal('end'), conversationId: Id });
export const PresenceFrame = v.object({ type: v.literal('presence'), presence: PresenceSchema });
export const AckFrame = v.object({ type: v.literal('ack'), seq: v.pipe(v.number(), v.integer(), v.minValue(0)) });
export const PingFrame = v.object({ type: v.literal('ping'), t: EpochMs });
/** The offer's time ran out in the browser (its template keeps it up for less than the feed would): move it on now. */
export const TimeoutFrame = v.object({ type: v.literal('timeout'), offerId: Id });
/** A renewed sign-in token on an open connection: the connection lasts as long as the newest token. */
export const AuthFrame = v.object({ type: v.literal('auth'), token: Text(MAX_TOKEN_CHARS) });
/** Send again a reply whose delivery failed with `retryable` (the agent's Retry). */
export const RetryDeliveryFrame = v.object({ type: v.literal('retry-delivery'), conversationId: Id, messageId: Id });

export const ClientFrameSchema = v.variant('type', [
  HelloFrame,
  AcceptFrame,
  RejectFrame,
  SendFrame,
  EndFrame,
  PresenceFrame,
  AckFrame,
  PingFrame,
  TimeoutFrame,
  RetryDeliveryFrame,
  AuthFrame,
]);
export type ClientFrame = v.InferOutput<typeof ClientFrameSchema>;

// ---------------------------------------------------------------------------
// Server → client

const Seq = v.pipe(v.number(), v.integer(), v.minValue(1));

export const WelcomeFrame = v.object({
  type: v.literal('welcome'),
  v: v.literal(PROTOCOL_VERSION),
  agentId: Id,
  agentName: Text(200),
  /** The server's clock at sending; the client derives its skew from it. */
  serverTime: EpochMs,
  /** The client pings at this interval; the server drops a silent client after two. */
  heartbeatSec: v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(120)),
  /**
   * True when the events after the client's `resumeFrom` follow. False when
   * the server could not resume (fresh session, or the cursor is unknown to
   * it): the client drops what it holds, and the server re-sends what is live.
   */
  resumed: v.boolean(),
  /** The highest seq of this agent before anything this connection sends. */
  lastSeq: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** How the feed routes each scenario (absent from older feeds: every conversation is offered). */
  routing: v.optional(v.record(ScenarioSchema, ScenarioRoutingSchema)),
  /** How many conversations (offered or active) the agent may have at once. */
  capacity: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

export type Welcome = v.InferOutput<typeof WelcomeFrame>;

/** The welcome frame, built in one place: the server sends it, the client's tests fake it. */
export function welcomeFrame(fields: Omit<Welcome, 'type' | 'v'>): Welcome {
  return { type: 'welcome', v: PROTOCOL_VERSION, ...fields };
}

export const OfferFrame = v.object({
  type: v.literal('offer'),
  seq: Seq,
  offerId: Id,
  conversation: ConversationSchema,
  offeredAt: EpochMs,
  /** Server time after which the offer is gone; authoritative. */
  expiresAt: EpochMs,
});

export const WITHDRAW_REASONS = ['expired', 'rejected', 'taken', 'customer-left', 'rerouted'] as const;
export type WithdrawReason = (typeof WITHDRAW_REASONS)[number];
export const OfferWithdrawnFrame = v.object({
  type: v.literal('offer-withdrawn'),
  seq: Seq,
  offerId: Id,
  reason: v.picklist(WITHDRAW_REASONS),
});

export const AcceptedFrame = v.object({
  type: v.literal('accepted'),
  seq: Seq,
  offerId: Id,
  conversation: ConversationSchema,
  transcript: v.pipe(v.array(MessageSchema), v.maxLength(MAX_TRANSCRIPT_MESSAGES)),
});

/** A conversation the feed gave this agent outright (routing mode `assign`): it is theirs, and no one else will be offered it. */
export const AssignedFrame = v.object({
  type: v.literal('assigned'),
  seq: Seq,
  conversation: ConversationSchema,
  transcript: v.pipe(v.array(MessageSchema), v.maxLength(MAX_TRANSCRIPT_MESSAGES)),
});

export const MessageFrame = v.object({ type: v.literal('message'), seq: Seq, message: MessageSchema });

/** A reply's delivery moved on (sent, delivered, read, failed); the client updates that message. */
export const MessageStatusFrame = v.object({
  type: v.literal('message-status'),
  seq: Seq,
  conversationId: Id,
  messageId: Id,
  delivery: DeliverySchema,
});

export const ConversationEndedFrame = v.object({
  type: v.literal('conversation-ended'),
  seq: Seq,
  conversationId: Id,
  by: v.picklist(['customer', 'agent', 'system']),
});

export const ERROR_CODES = [
  'bad-frame',
  'unsupported-version',
  'unauthorized',
  'not-ready',
  'unknown-offer',
  'offer-closed',
  'unknown-conversation',
  'rate-limited',
  /** The reply cannot go on this channel as it is: too long, or Messenger's 24-hour window has closed. */
  'not-deliverable',
  /** Retry asked of a reply that did not fail, or whose failure a retry cannot mend. */
  'cannot-retry',
  /** The feed cannot check sign-ins right now (its identity provider does not answer): try again later. */
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
export const ErrorFrame = v.object({
  type: v.literal('error'),
  code: v.picklist(ERROR_CODES),
  message: Text(1000),
  /** The id (offerId, clientMsgId, conversationId) of the command that failed, if any. */
  ref: v.optional(Id),
});

export const PongFrame = v.object({ type: v.literal('pong'), t: EpochMs, serverTime: EpochMs });

export const ServerFrameSchema = v.variant('type', [
  WelcomeFrame,
  OfferFrame,
  OfferWithdrawnFrame,
  AcceptedFrame,
  AssignedFrame,
  MessageFrame,
  MessageStatusFrame,
  ConversationEndedFrame,
  ErrorFrame,
  PongFrame,
]);
export type ServerFrame = v.InferOutput<typeof ServerFrameSchema>;
/** Server frames that carry a `seq` and go through the per-agent event log. */
export type ServerEvent = Extract<ServerFrame, { seq: number }>;
export type ServerEventType = ServerEvent['type'];
export type ServerEventBody = ServerEvent extends infer E ? (E extends ServerEvent ? Omit<E, 'seq'> : never) : never;

/** WebSocket close codes of the feed (docs/protocol.md), for both sides. */
export const CLOSE = {
  badHello: 4400,
  unauthorized: 4401,
  heartbeat: 4408,
  replaced: 4409,
  /** The client read too slowly: its unsent backlog passed the limit. It resumes from its cursor. */
  tooSlow: 4413,
  /** Too many frames, or too many failed sign-ins from the address. */
  flood: 4429,
  /** The server failed on this connection; others carry on. */
  internal: 1011,
  /** The server cannot take the connection now (it cannot check the sign-in): the client retries after its backoff. */
  tryAgain: 1013,
  /** The node is shutting down (a drain, a restart): the client moves to the next node it knows, or comes back after its backoff. */
  restarting: 1012,
} as const;

export type ParseResult<T> = { ok: true; frame: T } | { ok: false; error: string };

/**
 * Parses one raw text frame. Never throws: oversize text, bad JSON and a shape
 * the schema refuses all come back as `{ok: false}` with a reason that names
 * the offending field, for the log and the error frame.
 */
export function parseFrame<T>(
  schema: v.GenericSchema<unknown, T>,
  raw: unknown,
  maxChars: number,
): ParseResult<T> {
  if (typeof raw !== 'string') return { ok: false, error: 'frame is not text' };
  if (raw.length > maxChars) {
    return { ok: false, error: `frame of ${raw.length} characters exceeds ${maxChars}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'frame is not valid JSON' };
  }
  const result = v.safeParse(schema, json);
  if (result.success) return { ok: true, frame: result.output };
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
  return { ok: false, error: path ? `${path}: ${issue.message}` : issue.message };
}

export const parseServerFrame = (raw: unknown) => parseFrame(ServerFrameSchema, raw, MAX_SERVER_FRAME_CHARS);
export const parseClientFrame = (raw: unknown) => parseFrame(ClientFrameSchema, raw, MAX_CLIENT_FRAME_CHARS);

/**
 * The newest part of a transcript that an `accepted` event can carry: at most
 * `MAX_TRANSCRIPT_MESSAGES` messages, and few enough that the frame stays
 * within `maxChars`. The server fits every event before it logs it, so no
 * client ever receives a frame its schema refuses.
 */
export function fitTranscript(frame: Omit<Extract<ServerFrame, { type: 'accepted' | 'assigned' }>, 'seq'>, maxChars = MAX_SERVER_FRAME_CHARS - 64): { transcript: Message[]; trimmed: number } {
  let transcript = frame.transcript.length > MAX_TRANSCRIPT_MESSAGES ? frame.transcript.slice(-MAX_TRANSCRIPT_MESSAGES) : frame.transcript;
  let text = JSON.stringify({ ...frame, transcript });
  while (text.length > maxChars && transcript.length > 0) {
    transcript = transcript.slice(Math.max(1, Math.floor(transcript.length / 8)));
    text = JSON.stringify({ ...frame, transcript });
  }
  return { transcript, trimmed: frame.transcript.length - transcript.length };
}

/**
 * A server frame as text no longer than `maxChars`: an `accepted` event whose
 * transcript would not fit keeps its newest messages (`trimmed` says how many
 * were left out). Other frames are small by construction.
 */
export function serializeServerFrame(frame: ServerFrame, maxChars = MAX_SERVER_FRAME_CHARS): { text: string; trimmed: number } {
  const text = JSON.stringify(frame);
  if (frame.type !== 'accepted' && frame.type !== 'assigned') return { text, trimmed: 0 };
  if (text.length <= maxChars && frame.transcript.length <= MAX_TRANSCRIPT_MESSAGES) return { text, trimmed: 0 };
  const { transcript, trimmed } = fitTranscript(frame, maxChars);
  return { text: JSON.stringify({ ...frame, transcript }), trimmed };
}

/**
 * A person's name as it may be shown: NFC, without format characters (the
 * zero-width ones, bidi overrides and isolates that can reorder what the
 * agent reads) or unpaired surrogates, white space folded. Empty when nothing
 * printable is left; the caller refuses that with a message.
 */
export function normalizeName(raw: string): string {
  return raw
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .normalize('NFC')
    .replace(/\p{Cf}/gu, '')
    .replace(/\p{Cc}/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
