/**
 * The service worker's connection to the conversation feed.
 *
 *   idle ─start─► connecting ──welcome──► open ──close / missed pong / gap──┐
 *                    ▲   │                                                  │
 *                    │   └──fail──► waiting (backoff + jitter) ◄────────────┘
 *                    └──────────────────┘       refused (bad token): same, at the cap
 *
 * In a long outage (`timedAttempts` failures in a row) the client stops
 * retrying on a timer and waits for `reconnectNow()`, so the worker can idle.
 *
 * A feed may have several nodes (`urls`, tried in order). A connection that
 * is lost or cannot be made moves to the next node for the next attempt,
 * with the usual backoff; the cursor is the feed's, not the node's, so the
 * new node resumes where the old one stopped. A refused token or a newer
 * window stays on its node: another node would say the same.
 *
 * Every server event carries a per-agent `seq`. The client handles events in
 * order, one at a time, and saves the last handled seq after each; a new
 * connection says `resumeFrom` that seq, so the server replays exactly what
 * was missed. Seqs already handled are dropped (duplicates); a seq that skips
 * ahead means something was lost on the way, so the client reconnects and
 * resumes rather than carry on with a hole. A hole that comes back (the feed
 * keeps sending an event this client cannot read) must not become a storm:
 * the second time at the same seq the client backs off, the third time it
 * starts a fresh session (`resumeFrom: 0`, the feed sends what is live now),
 * and gap reconnects in a row wait longer each time.
 *
 * Everything from outside (socket, clock, randomness, where the cursor is
 * kept) is passed in, so the whole machine runs in unit tests.
 */
import { backoffDelay, type BackoffPolicy, FEED_BACKOFF } from './backoff';
import { type ConnectionState } from '../../utils/connection';
import { t } from '../../utils/i18n';
import { hop, HOPS_ON } from '../../utils/hops';
import { LatestWrite } from '../../utils/latest-write';
import {
  type ClientFrame,
  CLOSE,
  parseServerFrame,
  type Presence,
  PROTOCOL_VERSION,
  type ServerEvent,
  type ServerFrame,
} from '../../protocol/feed';

/** The part of the DOM WebSocket the client uses; tests pass a fake. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type Welcome = Extract<ServerFrame, { type: 'welcome' }>;
export type FeedErrorFrame = Extract<ServerFrame, { type: 'error' }>;
/** Commands the rest of the extension may send; hello, ping and ack belong to the client. */
export type FeedCommand = Exclude<ClientFrame, { type: 'hello' | 'ping' | 'ack' }>;

export interface FeedCursor {
  load(): Promise<number>;
  save(seq: number): Promise<void>;
}

export interface FeedClientOptions {
  /** The feed's nodes, in the order they are tried (at least one). */
  urls: readonly string[];
  /** The token for each hello: a static agent token, or the sign-in's current one; null: the agent must sign in first. */
  token: () => Promise<string | null> | string | null;
  presence: Presence;
  client: { name: string; version: string };
  cursor: FeedCursor;
  /**
   * Handles events, in seq order: applies them at once (the next call may
   * come before this one's promise settles) and resolves once they are
   * stored; only then does the cursor move past them. Must be idempotent, as
   * events can be replayed after a crash.
   */
  onEvents(events: ServerEvent[]): Promise<void> | void;
  /** After each welcome: skew correction, and a reset when the server could not resume. */
  onWelcome?(welcome: Welcome, skewMs: number): Promise<void> | void;
  /**
   * After each pong: serverTime − local time, corrected for half the round
   * trip, and that round trip (the estimate is good to half of it). A jump
   * means a clock was set. The first ping goes out right after the welcome,
   * whose own estimate is short by the welcome's transit time.
   */
  onClock?(skewMs: number, roundTripMs: number): Promise<void> | void;
  onError?(frame: FeedErrorFrame): void;
  /** The feed refused the token (close 4401), with its words. */
  onRefused?(message: string): void;
  onState?(state: ConnectionState): void;
  onInvalidFrame?(reason: string): void;
  /** The client gave up resuming past an event it cannot read and starts a fresh session; says why, for diagnostics. */
  onFreshStart?(reason: string): void;
  createSocket?: (url: string) => WebSocketLike;
  now?: () => number;
  random?: () => number;
  backoff?: BackoffPolicy;
  /** Failed attempts so far in this outage: a client started by a restarted worker carries on where the last one stopped. */
  attempt?: number;
  /**
   * After this many failed attempts in a row, the client stops retrying on a
   * timer and waits for `reconnectNow()` (the worker's wake alarm), so that
   * Chrome can stop an idle worker during a long outage. Default: no limit.
   */
  timedAttempts?: number;
  /** How long to wait for a pong (or any frame) after a ping before calling the socket dead. */
  pongTimeoutMs?: number;
  /** How long a socket may take to open and be welcomed. */
  connectTimeoutMs?: number;
}

const { unauthorized: CLOSE_UNAUTHORIZED, replaced: CLOSE_REPLACED, tooSlow: CLOSE_TOO_SLOW, tryAgain: CLOSE_TRY_AGAIN, restarting: CLOSE_RESTARTING } = CLOSE;

/** Gap reconnects further apart than this are not a storm: the count starts again. */
const GAP_STREAK_RESET_MS = 5 * 60_000;

/**
 * Wait before the reconnect after the `streak`-th gap in a row: none for the
 * first (a lost frame is normal), then 5 s, 10 s, 20 s … up to a minute, with
 * equal jitter so that it never collapses to nothing.
 */
export function gapDelay(streak: number, random: () => number): number {
  if (streak <= 1) return 0;
  const ceiling = Math.min(60_000, 5_000 * 2 ** Math.min(streak - 2, 10));
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}

export class FeedClient {
  readonly stats = { invalidFrames: 0, duplicates: 0, gaps: 0, reconnects: 0, freshStarts: 0 };
  #state: ConnectionState;
  #socket: WebSocketLike | undefined;
  #generation = 0;
  #lastSeq = 0;
  #welcomed = false;
  #stopped = true;
  /** Which of the feed's nodes the client is on, or tries next. */
  #node = 0;
  #inbox: unknown[] = [];
  /** Bench builds only: when each frame came off the socket. */
  readonly #arrivedAt = new Map<unknown, number>();
  /** The seq a gap was last found after, and how many times in a row. */
  #gapAt: { seq: number; times: number } | undefined;
  /** Gap reconnects in a row (reset after a quiet spell), and when the last was. */
  #gapStreak = { count: 0, at: 0 };
  /** The next connection starts a fresh session instead of resuming. */
  #freshStart = false;
  #draining = false;
  /** Batches handed over, in order, each settled once stored. */
  #stored: Promise<void> = Promise.resolve();
  /** The cursor written, only the newest seq whose events are stored; acked to the feed once written. */
  readonly #cursor = new LatestWrite<number>(async (seq) => {
    await this.#o.cursor.save(seq);
    this.#ackSeq = Math.max(this.#ackSeq, seq);
  });
  #ackSeq = 0;
  /** No token to say hello with: the client waits for reconnectNow() after a sign-in. */
  #awaitingSignIn = false;
  /** The token this connection last gave the feed (hello or auth), and the newest one known. */
  #saidToken: string | undefined;
  #latestToken: string | undefined;
  /** The words of the feed's last `unauthorized` error on this connection. */
  #refusal: string | undefined;
  #timers: { retry?: ReturnType<typeof setTimeout>; ping?: ReturnType<typeof setInterval>; pong?: ReturnType<typeof setTimeout>; connect?: ReturnType<typeof setTimeout>; ack?: ReturnType<typeof setTimeout> } = {};
  readonly #o: Required<Pick<FeedClientOptions, 'now' | 'random' | 'backoff' | 'pongTimeoutMs' | 'connectTimeoutMs' | 'createSocket'>> &
    FeedClientOptions;

  constructor(options: FeedClientOptions) {
    this.#o = {
      now: Date.now,
      random: Math.random,
      backoff: FEED_BACKOFF,
      pongTimeoutMs: 10_000,
      connectTimeoutMs: 15_000,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      ...options,
    };
    this.#state = { status: 'idle', attempt: options.attempt ?? 0, since: this.#o.now() };
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    this.#clearTimers();
    this.#drop(1000, 'client stopped');
    this.#setState({ status: 'idle', attempt: 0 });
  }

  /** Skips the backoff wait (the worker woke up, the network came back), or tries again after a sign-in. */
  reconnectNow(): void {
    const { status } = this.#state;
    if (this.#stopped || this.#socket) return;
    if (status !== 'waiting' && status !== 'refused' && !(status === 'idle' && this.#awaitingSignIn)) return;
    clearTimeout(this.#timers.retry);
    void this.#connect();
  }

  /** Sends a command if the feed is open; false when it is not (the caller tells the agent). */
  send(command: FeedCommand): boolean {
    if (!this.#welcomed || this.#socket?.readyState !== 1) return false;
    this.#socket.send(JSON.stringify(command));
    return true;
  }

  /**
   * A renewed sign-in token: sent on the open connection, which then lasts as
   * long as it does; one that comes while connecting goes out right after the
   * welcome; a client waiting for a sign-in connects with it.
   */
  renew(token: string): void {
    this.#latestToken = token;
    if (this.#welcomed && this.#socket?.readyState === 1) this.#sendAuth();
    else this.reconnectNow();
  }

  #sendAuth(): void {
    const token = this.#latestToken;
    if (!token || token === this.#saidToken || this.#socket?.readyState !== 1) return;
    this.#socket.send(JSON.stringify({ type: 'auth', token } satisfies ClientFrame));
    this.#saidToken = token;
  }

  setPresence(presence: Presence): void {
    this.#o.presence = presence;
    this.send({ type: 'presence', presence });
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    this.#setState({ status: 'connecting', attempt: this.#state.attempt });
    // What the last connection handed over is stored first, so the cursor read back is the newest.
    await this.#stored;
    await this.#cursor.settled();
    this.#lastSeq = this.#freshStart ? 0 : await this.#o.cursor.load();
    this.#ackSeq = this.#lastSeq;
    const token = await this.#o.token();
    if (generation !== this.#generation || this.#stopped) return;
    this.#awaitingSignIn = !token;
    if (!token) return this.#setState({ status: 'idle', attempt: 0, lastError: t('conn_sign_in_needed') });
    this.#refusal = undefined;
    this.#saidToken = this.#latestToken = token;
    const url = this.#o.urls[this.#node]!;
    let socket: WebSocketLike;
    try {
      socket = this.#o.createSocket(url);
    } catch (error) {
      return this.#lost(t('conn_cannot_open', url, (error as Error).message));
    }
    this.#socket = socket;
    this.#welcomed = false;
    this.#timers.connect = setTimeout(() => {
      if (generation === this.#generation && !this.#welcomed) {
        this.#drop(4000, 'connect timeout');
        this.#lost(t('conn_no_answer'));
      }
    }, this.#o.connectTimeoutMs);
    socket.onopen = () => {
      socket.send(
        JSON.stringify({
          type: 'hello',
          v: PROTOCOL_VERSION,
          token,
          resumeFrom: this.#lastSeq,
          presence: this.#o.presence,
          client: this.#o.client,
        } satisfies ClientFrame),
      );
    };
    socket.onmessage = (ev) => {
      if (generation !== this.#generation) return;
      // Any frame proves the socket is alive.
      clearTimeout(this.#timers.pong);
      this.#timers.pong = undefined;
      this.#inbox.push(ev.data);
      if (HOPS_ON) this.#arrivedAt.set(ev.data, performance.now());
      void this.#drain(generation);
    };
    socket.onerror = () => {};
    socket.onclose = (ev) => {
      if (generation !== this.#generation) return;
      this.#socket = undefined;
      this.#lost(describeClose(ev.code, ev.reason), ev.code);
    };
  }

  /** Handles what has arrived, in order, one batch at a time. */
  async #drain(generation: number): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#inbox.length > 0 && generation === this.#generation) {
        const frames = this.#inbox.splice(0);
        let batch: ServerEvent[] = [];
        for (const raw of frames) {
          if (generation !== this.#generation) return;
          const parsed = parseServerFrame(raw);
          if (!parsed.ok) {
            this.stats.invalidFrames++;
            console.warn('[deskbell] dropped an invalid feed frame:', parsed.error);
            this.#o.onInvalidFrame?.(parsed.error);
            continue;
          }
          const frame = parsed.frame;
          if (HOPS_ON) {
            if (frame.type === 'offer') {
              hop('received', frame.offerId, this.#arrivedAt.get(raw));
              hop('parsed', frame.offerId);
            }
            this.#arrivedAt.delete(raw);
          }
          if ('seq' in frame) {
            batch.push(frame);
            continue;
          }
          // Events before a welcome, an error or a pong are handled first, in order.
          this.#events(batch, generation);
          batch = [];
          if (frame.type === 'welcome') await this.#welcome(frame, generation);
          else if (frame.type === 'error') {
            if (frame.code === 'unauthorized') this.#refusal = frame.message;
            this.#o.onError?.(frame);
          }
          else if (frame.type === 'pong') await this.#pong(frame);
        }
        this.#events(batch, generation);
      }
    } catch (error) {
      console.error('[deskbell] feed event handler failed', error);
    } finally {
      this.#draining = false;
    }
    if (this.#inbox.length > 0 && generation === this.#generation) void this.#drain(generation);
  }

  async #pong(frame: Extract<ServerFrame, { type: 'pong' }>): Promise<void> {
    const now = this.#o.now();
    const roundTrip = now - frame.t;
    // A round trip that looks negative or too long had the clock set during it: the next one tells.
    if (roundTrip < 0 || roundTrip > this.#o.pongTimeoutMs) return;
    await this.#o.onClock?.(frame.serverTime - (frame.t + now) / 2, roundTrip);
  }

  async #welcome(frame: Welcome, generation: number): Promise<void> {
    clearTimeout(this.#timers.connect);
    const skew = frame.serverTime - this.#o.now();
    this.#freshStart = false;
    if (!frame.resumed) {
      this.#lastSeq = frame.lastSeq;
      await this.#cursor.set(frame.lastSeq);
    }
    await this.#o.onWelcome?.(frame, skew);
    if (generation !== this.#generation) return;
    this.#welcomed = true;
    // A token renewed while this connection was being made.
    this.#sendAuth();
    this.#setState({ status: 'open', attempt: 0, agentId: frame.agentId, agentName: frame.agentName });
    clearInterval(this.#timers.ping);
    this.#timers.ping = setInterval(() => this.#ping(), frame.heartbeatSec * 1000);
    // The welcome's clock reading is late by its transit time; a round trip now corrects it.
    this.#ping();
  }

  /** Drops duplicates, resumes on a gap, hands the rest over and moves the cursor once. */
  #events(events: ServerEvent[], generation: number): void {
    if (events.length === 0 || generation !== this.#generation) return;
    if (!this.#welcomed) {
      this.stats.invalidFrames += events.length;
      this.#o.onInvalidFrame?.(`${events[0]!.type} before welcome`);
      return;
    }
    const fresh: ServerEvent[] = [];
    let next = this.#lastSeq;
    for (const event of events) {
      if (event.seq <= next) {
        this.stats.duplicates++;
        continue;
      }
      if (event.seq > next + 1) {
        // A hole: keep what came before it, then resume from there rather than build on it.
        this.stats.gaps++;
        console.warn(`[deskbell] feed skipped from seq ${next} to ${event.seq}; resuming`);
        this.#commit(fresh, generation);
        this.#drop(4000, 'sequence gap');
        this.#afterGap(this.#lastSeq);
        return;
      }
      fresh.push(event);
      next = event.seq;
    }
    this.#commit(fresh, generation);
  }

  /** Plans the reconnect after a gap found right after `seq`: at once, later, or as a fresh session. */
  #afterGap(seq: number): void {
    const now = this.#o.now();
    const times = this.#gapAt?.seq === seq ? this.#gapAt.times + 1 : 1;
    this.#gapAt = { seq, times };
    const streak = now - this.#gapStreak.at > GAP_STREAK_RESET_MS ? 1 : this.#gapStreak.count + 1;
    this.#gapStreak = { count: streak, at: now };
    let reason = t('conn_gap');
    if (times >= 3) {
      this.#freshStart = true;
      this.#gapAt = undefined;
      this.stats.freshStarts++;
      reason = t('conn_unreadable', seq, times);
      console.warn(`[deskbell] ${reason}`);
      this.#o.onFreshStart?.(reason);
    }
    this.#lost(reason, undefined, { delayMs: gapDelay(streak, this.#o.random) });
  }

  /**
   * Hands events over without waiting for them to be stored: the next frame
   * is shown while this one is written. The cursor (and the ack that lets the
   * feed forget) moves past them only once they are stored, in order.
   */
  #commit(events: ServerEvent[], generation: number): void {
    if (events.length === 0) return;
    const seq = events.at(-1)!.seq;
    this.#lastSeq = seq;
    const stored = this.#o.onEvents(events);
    this.#stored = this.#stored
      .then(() => stored)
      .then(() => {
        void this.#cursor.set(seq).then(() => {
          if (generation === this.#generation) this.#scheduleAck();
        });
      })
      .catch((error: unknown) => console.error('[deskbell] feed events could not be stored; the cursor stays before them:', error));
  }

  #scheduleAck(): void {
    if (this.#timers.ack) return;
    this.#timers.ack = setTimeout(() => {
      this.#timers.ack = undefined;
      if (this.#welcomed && this.#socket?.readyState === 1) this.#socket.send(JSON.stringify({ type: 'ack', seq: this.#ackSeq }));
    }, 500);
  }

  #ping(): void {
    if (this.#socket?.readyState !== 1) return;
    this.#socket.send(JSON.stringify({ type: 'ping', t: this.#o.now() } satisfies ClientFrame));
    // Counted from the first ping nothing has answered: a heartbeat shorter than the timeout must not push it back.
    this.#timers.pong ??= setTimeout(() => {
      // Half-open: the socket looks open but nothing comes back.
      this.#drop(4000, 'no pong');
      this.#lost(t('conn_no_heartbeat'));
    }, this.#o.pongTimeoutMs);
  }

  /** The connection is gone; plan the next attempt (after the backoff, or after `delayMs` when given). */
  #lost(reason: string, code?: number, plan: { delayMs?: number } = {}): void {
    if (this.#stopped) return;
    this.#generation++;
    this.#welcomed = false;
    this.#socket = undefined;
    this.#clearTimers();
    this.stats.reconnects++;
    const refused = code === CLOSE_UNAUTHORIZED;
    // A refused token or a newer window of the same agent will not change
    // soon: retry at the slowest pace, so two windows do not fight.
    const slow = refused || code === CLOSE_REPLACED;
    const attempt = this.#state.attempt;
    const planned = plan.delayMs !== undefined;
    // The node failed (or is draining): the next attempt goes to the next one. A gap is no node's fault.
    if (!slow && !planned) this.#node = (this.#node + 1) % this.#o.urls.length;
    const delay = planned ? plan.delayMs! : backoffDelay(slow ? 30 : attempt, this.#o.backoff, this.#o.random);
    // A long outage: the next attempt waits for reconnectNow().
    const parked = !planned && attempt + 1 >= (this.#o.timedAttempts ?? Infinity);
    this.#setState({
      status: refused ? 'refused' : 'waiting',
      attempt: attempt + 1,
      ...(parked ? {} : { retryAt: this.#o.now() + delay }),
      lastError: reason,
    });
    if (!parked) this.#timers.retry = setTimeout(() => void this.#connect(), delay);
    if (refused) this.#o.onRefused?.(this.#refusal ?? reason);
  }

  #drop(code: number, reason: string): void {
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return;
    socket.onclose = socket.onmessage = socket.onopen = null;
    try {
      socket.close(code, reason);
    } catch {
      // Closing a socket that never opened can throw; it is gone either way.
    }
  }

  #clearTimers(): void {
    clearTimeout(this.#timers.retry);
    clearInterval(this.#timers.ping);
    clearTimeout(this.#timers.pong);
    clearTimeout(this.#timers.connect);
    clearTimeout(this.#timers.ack);
    this.#timers = {};
  }

  #setState(next: Omit<ConnectionState, 'since'>): void {
    const keepAgent = next.status !== 'idle' && !next.agentId && this.#state.agentId;
    this.#state = {
      ...(keepAgent ? { agentId: this.#state.agentId, agentName: this.#state.agentName } : {}),
      ...(this.#state.lastError && next.status === 'connecting' ? { lastError: this.#state.lastError } : {}),
      ...(next.status !== 'idle' ? { node: this.#o.urls[this.#node] } : {}),
      ...next,
      since: this.#o.now(),
    };
    this.#o.onState?.(this.#state);
  }
}

/** Why the feed closed the connection, in the agent's language (the worker's catalogue). */
export function describeClose(code: number, reason: string): string {
  if (code === CLOSE_UNAUTHORIZED) return t('conn_refused');
  if (code === CLOSE_REPLACED) return t('conn_replaced');
  if (code === CLOSE_TOO_SLOW) return t('conn_too_slow');
  if (code === CLOSE_TRY_AGAIN) return t('conn_try_again');
  if (code === CLOSE_RESTARTING) return t('conn_restarting');
  if (code === 1006) return t('conn_lost');
  return reason ? t('conn_closed_reason', reason) : t('conn_closed_code', code);
}
