/**
 * Ties the feed client to the settings and the state keeper: (re)connects
 * when the settings change, turns each event into a state change, and keeps
 * the diagnostics the options page shows.
 */
import { browser } from 'wxt/browser';
import { FeedClient, type FeedCommand, type WebSocketLike } from './feed-client';
import { type ConnectionState } from '../../utils/connection';
import { t } from '../../utils/i18n';
import { applyEvent, CLOCK_JUMP_MS, hasTruncatedSessions, rebaseClock, resetForFreshSession } from './feed-state';
import { checkFeedUrls } from '../../utils/feed-url';
import type { Presenter } from '../../utils/presentation';
import type { Presence, ServerEvent } from '../../protocol/feed';
import { agentPresence, type Diagnostics, diagnostics, feedCursor } from '../../utils/storage-items';
import type { StateKeeper } from './state-keeper';
import { LatestWrite } from '../../utils/latest-write';

const JOURNAL_SIZE = 500;
/** The journal kept when storage.session has no room for the whole one: the counters and last errors matter more. */
const JOURNAL_SIZE_WHEN_FULL = 20;

/** What the feed is told the agent is: a static token from the settings, or the agent's sign-in. */
export type FeedCredential =
  | { kind: 'token'; token: string }
  | {
      kind: 'sign-in';
      /** The token for the next hello; null until the agent signs in. */
      token(): Promise<string | null>;
      /** The feed refused the signed-in agent, in these words. */
      refused(message: string): void;
      /** Why sign-in cannot work as set up (no client id), or null. */
      problem: string | null;
    };
/**
 * Failed attempts retried on a timer (about half a minute in all, with the
 * backoff); after that, once a minute from the worker's wake alarm. Timed
 * retries call extension APIs, and each call keeps the worker running, so
 * without this limit a feed that stays down would keep it running forever.
 */
const TIMED_ATTEMPTS = 6;

function eventKey(event: ServerEvent): string {
  switch (event.type) {
    case 'offer':
    case 'offer-withdrawn':
    case 'accepted':
      return event.offerId;
    case 'message':
      return event.message.id;
    case 'message-status':
      return event.messageId;
    case 'assigned':
      return event.conversation.id;
    case 'conversation-ended':
      return event.conversationId;
  }
}

/** How often the feed events that came meanwhile are added to the diagnostics journal. */
const JOURNAL_EVERY_MS = 250;

export class FeedConnection {
  #client: FeedClient | undefined;
  #diag: Promise<Diagnostics>;
  /**
   * Only the newest diagnostics are written. When storage.session is full
   * (the journal alone is some 50 KB), they are written with only the latest
   * journal entries, so the counters and the last storage error still reach
   * the options page; a write that fails even so is said and breaks nothing.
   */
  readonly #diagWrites = new LatestWrite<Diagnostics>(async (d) => {
    try {
      await diagnostics.setValue(d);
    } catch (error) {
      try {
        await diagnostics.setValue({ ...d, journal: d.journal.slice(-JOURNAL_SIZE_WHEN_FULL) });
      } catch {
        console.warn('[deskbell] could not store the diagnostics:', error);
      }
    }
  });
  /**
   * Feed events not yet in the diagnostics journal: noted together every
   * quarter second, as a write per event would compete with the next offer
   * on its way to the screen.
   */
  readonly #journal: Diagnostics['journal'] = [];
  #journalTimer: ReturnType<typeof setTimeout> | undefined;
  /** The round trip of the skew estimate in use; a welcome's has none (it is late by its transit time). */
  #clockRoundTrip = Infinity;
  #restarting: Promise<void> = Promise.resolve();

  /**
   * @param present decides, once per new offer or assignment, how it shows (utils/presentation.ts).
   * @param onConnection told of every change of the connection state.
   * @param onWelcomed after each welcome, once the state has taken it in (timeouts the feed was not told of yet go out).
   * @param createSocket the WebSocket to use (tests pass Node's `ws`).
   */
  constructor(
    private readonly keeper: StateKeeper,
    private readonly present: Presenter,
    private readonly onConnection: (state: ConnectionState) => void,
    private readonly onWelcomed: () => void = () => {},
    private readonly createSocket?: (url: string) => WebSocketLike,
  ) {
    this.#diag = diagnostics.getValue();
  }

  #target: { url: string; credential: FeedCredential } = { url: '', credential: { kind: 'token', token: '' } };
  /** The first client of this worker's life carries on the outage its predecessor was in. */
  #firstStart = true;

  /** Connects to this feed (again: one URL or several nodes, as the setting says); stops a previous client first. Calls run one after another. */
  restart(url: string, credential: FeedCredential): Promise<void> {
    this.#target = { url, credential };
    this.#restarting = this.#restarting.then(() => this.#restart());
    return this.#restarting;
  }

  async #restart(): Promise<void> {
    this.#client?.stop();
    this.#client = undefined;
    const settings = this.#target;
    const presence = await agentPresence.getValue();
    let attempt = 0;
    if (this.#firstStart) {
      this.#firstStart = false;
      attempt = outageAttempts((await this.#diag).connection);
      await this.#recoverTruncated();
    }
    const check = settings.url.trim() ? checkFeedUrls(settings.url) : ({ ok: false, error: t('conn_no_url') } as const);
    const { credential } = settings;
    const missing = !check.ok ? check.error : credential.kind === 'token' ? (credential.token ? null : t('conn_no_token')) : credential.problem;
    if (!check.ok || missing) {
      const connection: ConnectionState = { status: 'idle', attempt: 0, since: Date.now(), lastError: missing ?? '' };
      this.onConnection(connection);
      await this.#note({ connection });
      return;
    }
    const client = new FeedClient({
      urls: check.urls,
      token: credential.kind === 'token' ? () => credential.token : () => credential.token(),
      ...(credential.kind === 'sign-in' ? { onRefused: (message: string) => credential.refused(message) } : {}),
      presence,
      attempt,
      timedAttempts: TIMED_ATTEMPTS,
      client: { name: 'deskbell-extension', version: browser.runtime.getManifest().version ?? '0' },
      ...(this.createSocket ? { createSocket: this.createSocket } : {}),
      cursor: {
        load: () => feedCursor.getValue(),
        // storage.session full: the cursor stays in memory. A restarted worker then resumes from an
        // older seq, and the replayed events are dropped as duplicates.
        save: (seq) => feedCursor.setValue(seq).catch((error: unknown) => console.warn('[deskbell] could not store the feed cursor:', error)),
      },
      onWelcome: async (welcome, skew) => {
        this.#clockRoundTrip = Infinity;
        await this.keeper.update((s) => {
          const next = welcome.resumed ? rebaseClock(s, skew) : resetForFreshSession(s, skew);
          return { ...next, ...(welcome.routing ? { routing: welcome.routing } : {}), ...(welcome.capacity ? { capacity: welcome.capacity } : {}) };
        });
        // Not awaited: the client marks itself open only after this returns.
        setTimeout(() => this.onWelcomed(), 0);
      },
      // A heartbeat whose skew moved by more than noise and more than the round trips of
      // the two estimates can explain: a clock was set. Below that, a round trip shorter
      // than the one behind the estimate in use gives a closer one (wait times read true
      // to half of it), so the estimate is written a few times per connection at most.
      onClock: async (skew, roundTrip) => {
        await this.keeper.ready;
        // Each estimate is good to half its round trip; a welcome's is taken as it is.
        const inUse = Number.isFinite(this.#clockRoundTrip) ? this.#clockRoundTrip : 0;
        const noise = CLOCK_JUMP_MS + (roundTrip + inUse) / 2;
        const jumped = Math.abs(skew - this.keeper.state.skewMs) >= noise;
        if (!jumped && roundTrip >= this.#clockRoundTrip) return;
        this.#clockRoundTrip = roundTrip;
        if (jumped) console.warn(`[deskbell] the clock moved by ${Math.round((this.keeper.state.skewMs - skew) / 1000)} s against the feed's; offer deadlines move with it`);
        await this.keeper.update((s) => rebaseClock(s, skew, noise));
      },
      onEvents: async (events) => {
        await this.keeper.update((s, now) => events.reduce((state, event) => applyEvent(state, event, now, this.present), s));
        this.#journal.push(...events.map((e) => ({ seq: e.seq, type: e.type, id: eventKey(e) })));
        if (this.#journalTimer === undefined) {
          this.#journalTimer = setTimeout(() => {
            this.#journalTimer = undefined;
            const entries = this.#journal.splice(0);
            void this.#note((d) => ({ journal: [...d.journal, ...entries].slice(-JOURNAL_SIZE) }));
          }, JOURNAL_EVERY_MS);
        }
      },
      onState: (connection) => {
        this.onConnection(connection);
        void this.#note({ connection, duplicates: client.stats.duplicates });
      },
      onInvalidFrame: (reason) => void this.#note((d) => ({ invalidFrames: d.invalidFrames + 1, lastInvalidFrame: reason })),
      onFreshStart: (reason) => void this.#note((d) => ({ freshStarts: (d.freshStarts ?? 0) + 1, lastFreshStart: reason })),
      onError: (frame) => {
        for (const listener of this.#errorListeners) listener(frame);
        void this.#note({ lastFeedError: `${frame.code}: ${frame.message}` });
      },
    });
    this.#client = client;
    client.start();
  }

  /**
   * The stored state lost older messages of a live conversation (storage.session
   * was full when it was saved): connecting without resuming makes the feed
   * send every live conversation again, whole.
   */
  async #recoverTruncated(): Promise<void> {
    await this.keeper.ready;
    if (!hasTruncatedSessions(this.keeper.state)) return;
    console.warn('[deskbell] the stored conversations lack older messages; asking the feed for all of them again');
    await feedCursor.setValue(0);
  }

  /** Sends a command to the feed; false when the feed is not connected. */
  send(command: FeedCommand): boolean {
    return this.#client?.send(command) ?? false;
  }

  /** A renewed sign-in token: sent on the open connection, which then lasts as long as it does; a waiting client connects with it. */
  renewed(token: string): void {
    this.#client?.renew(token);
  }

  /** The worker woke up (alarm, message): skip any backoff wait. */
  nudge(): void {
    this.#client?.reconnectNow();
  }

  setPresence(presence: Presence): void {
    this.#client?.setPresence(presence);
  }

  readonly #errorListeners = new Set<(frame: { code: string; message: string; ref?: string | undefined }) => void>();

  /** The feed refused a command (its error frame names the command's id in `ref`). */
  onCommandError(listener: (frame: { code: string; message: string; ref?: string | undefined }) => void): void {
    this.#errorListeners.add(listener);
  }

  /** For other parts of the worker: records diagnostics through the same chain. */
  noteDiagnostics(change: Partial<Diagnostics>): void {
    void this.#note(change);
  }

  /** Diagnostics changes go through one chain, so none overwrites another; only the newest is written. */
  #note(change: Partial<Diagnostics> | ((d: Diagnostics) => Partial<Diagnostics>)): Promise<Diagnostics> {
    const next = (this.#diag = this.#diag.then((d) => ({ ...d, ...(typeof change === 'function' ? change(d) : change) })));
    return next.then(async (d) => (await this.#diagWrites.set(d), d));
  }
}

/** Failed attempts of the outage a stopped worker left off in; 0 when it was connected or idle. */
function outageAttempts(connection: ConnectionState): number {
  return connection.status === 'waiting' || connection.status === 'refused' || connection.status === 'connecting' ? connection.attempt : 0;
}
