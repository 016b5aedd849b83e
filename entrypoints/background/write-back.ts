/**
 * Writes each ended conversation with a known contact to that contact's CRM
 * timeline, once. The job lives in the stored state, so a stopped worker
 * picks it up again; each attempt is counted before it starts, so one cut
 * short is known to be in doubt, and the adapters' writes are safe to repeat
 * (an upsert on a derived id, or a lookup by reference before writing).
 */
import { ADAPTERS } from '../../utils/crm';
import { CrmError, type ConversationRecord, type CrmApi } from '../../utils/crm/api';
import { customerName, type CrmOrg } from '../../utils/crm/types';
import type { FeedState, SessionEntry, WriteBack } from '../../utils/state';
import type { StateKeeper } from './state-keeper';

export const MAX_ATTEMPTS = 12;
const FIRST_DELAY_MS = 3_000;
const MAX_DELAY_MS = 5 * 60_000;
/** A transcript longer than this is cut (oldest lines first) so the stored job stays small. */
const TRANSCRIPT_CHARS = 20_000;

export const retryDelay = (attempts: number, retryAfterS?: number) =>
  Math.max(retryAfterS ? retryAfterS * 1000 : 0, Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, attempts - 1)));

const clock = (at: number) => new Date(at).toISOString().slice(11, 16);

export function conversationRecord(session: SessionEntry, name: string, agentName: string, endedAt: number): ConversationRecord {
  const lines = session.transcript.map((m) => `${clock(m.at)} ${m.from === 'customer' ? name : (m.author ?? (m.from === 'agent' ? agentName : m.from))}: ${m.text}`);
  let transcript = lines.join('\n');
  if (transcript.length > TRANSCRIPT_CHARS) transcript = `…\n${transcript.slice(-TRANSCRIPT_CHARS)}`;
  return { conversationId: session.conversationId, channel: session.conversation.channel, customerName: name, agentName, startedAt: session.acceptedAt, endedAt, transcript };
}

/** Jobs for sessions that ended with a known contact and have none yet; done or failed jobs of closed sessions are dropped. */
export function planWriteBacks(state: FeedState, agentName: string, now: number): FeedState {
  const jobs: Record<string, WriteBack> = { ...state.writeBacks };
  let changed = false;
  for (const session of Object.values(state.sessions)) {
    const ident = state.identifications[session.conversationId];
    if (!session.endedBy || ident?.status !== 'matched' || jobs[session.conversationId]) continue;
    const record = conversationRecord(session, customerName(session.conversation, ident), agentName, now);
    jobs[session.conversationId] = { org: ident.org, contactId: ident.contact.id, record, attempts: 0, nextAt: now, status: 'pending' };
    changed = true;
  }
  for (const [id, job] of Object.entries(jobs)) {
    if (job.status !== 'pending' && !state.sessions[id]) {
      delete jobs[id];
      changed = true;
    }
  }
  return changed ? { ...state, writeBacks: jobs } : state;
}

export class WriteBacks {
  readonly #inFlight = new Set<string>();
  /** The wake-up last asked for (not asked again on every state change). */
  #scheduled: number | undefined;

  constructor(
    private readonly keeper: StateKeeper,
    private readonly api: (org: CrmOrg) => CrmApi,
    private readonly agentName: () => string,
    /** Asks to be run again at `at` (an alarm), or cancels that when undefined. */
    private readonly schedule: (at: number | undefined) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Plans jobs for newly ended sessions, then runs those that are due. */
  sync(state: FeedState): void {
    const planned = planWriteBacks(state, this.agentName(), this.now());
    if (planned !== state) {
      void this.keeper.update((s) => planWriteBacks(s, this.agentName(), this.now()));
      return; // the update comes back through sync
    }
    this.#run(state);
  }

  #run(state: FeedState): void {
    const now = this.now();
    const pending = Object.entries(state.writeBacks ?? {}).filter(([, job]) => job.status === 'pending');
    for (const [id, job] of pending) if (job.nextAt <= now && !this.#inFlight.has(id)) void this.#attempt(id);
    const waiting = pending.filter(([id, job]) => job.nextAt > now && !this.#inFlight.has(id)).map(([, job]) => job.nextAt);
    const at = waiting.length ? Math.min(...waiting) : undefined;
    if (at !== this.#scheduled) this.schedule(at);
    this.#scheduled = at;
  }

  async #attempt(id: string): Promise<void> {
    this.#inFlight.add(id);
    try {
      const before = this.keeper.state.writeBacks?.[id];
      if (before?.status !== 'pending') return;
      await this.keeper.update((s) => patch(s, id, { attempts: before.attempts + 1 }));
      let outcome: Partial<WriteBack>;
      try {
        await ADAPTERS[before.org.crm].writeBack(this.api(before.org), before.contactId, before.record, before.attempts);
        outcome = { status: 'done' };
      } catch (error) {
        const attempts = before.attempts + 1;
        const message = error instanceof Error ? error.message : String(error);
        outcome =
          attempts >= MAX_ATTEMPTS
            ? { status: 'failed', error: message }
            : { error: message, nextAt: this.now() + retryDelay(attempts, error instanceof CrmError ? error.retryAfterS : undefined) };
      }
      this.#inFlight.delete(id);
      await this.keeper.update((s) => {
        const job = s.writeBacks?.[id];
        if (!job) return s;
        const { error: _old, ...rest } = job;
        return { ...s, writeBacks: { ...s.writeBacks, [id]: { ...rest, ...outcome } } };
      });
    } finally {
      this.#inFlight.delete(id);
    }
  }
}

function patch(state: FeedState, id: string, change: Partial<WriteBack>): FeedState {
  const job = state.writeBacks?.[id];
  return job ? { ...state, writeBacks: { ...state.writeBacks, [id]: { ...job, ...change } } } : state;
}
