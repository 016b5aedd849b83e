/** What the parts of the feed service share: the store, the event log and the clock. */
import type { EventLog, Tx } from './event-log.ts';
import type { Logger } from './logger.ts';
import type { OfferOutcome } from './metrics.ts';
import type { Store } from './store.ts';

export interface Work {
  /** Reads outside a change; a change reads and writes through its `Tx`. */
  readonly store: Store;
  readonly events: EventLog;
  readonly log: Logger;
  now(): number;
  /**
   * Runs a state change (event-log.ts). Unless `keepsLoads` (the caller
   * counts the change in dispatch's loads itself), the agents' loads that
   * dispatch keeps are read again.
   */
  tx<T>(fn: (t: Tx) => Promise<T>, keepsLoads?: boolean): Promise<T>;
  /** Hands waiting conversations to agents (after a change that may free or need one); runs soon, one run at a time. */
  dispatch(): void;
  /** Counts what became of an offer (metrics). */
  counted(outcome: OfferOutcome): void;
}
