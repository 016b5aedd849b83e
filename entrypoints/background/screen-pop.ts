/**
 * Screen pop: when the agent has accepted a conversation whose customer is a
 * known CRM contact, the contact's record opens (admin setting: in the CRM
 * tab the agent has open, or in a new tab). Once per conversation, marked in
 * the stored state before the tab is touched, so a restart never pops twice.
 */
import type { CrmOrg } from '../../utils/crm/types';
import type { ScreenPop } from '../../utils/settings';
import type { FeedState } from '../../utils/state';
import { setIdentification } from './feed-state';
import type { StateKeeper } from './state-keeper';

/** A match that arrives this long after Accept no longer pops (the agent is well into the conversation). */
export const POP_WINDOW_MS = 2 * 60_000;

export class ScreenPops {
  constructor(
    private readonly keeper: StateKeeper,
    private readonly mode: () => ScreenPop,
    private readonly open: (mode: Exclude<ScreenPop, 'none'>, org: CrmOrg, url: string) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  sync(state: FeedState): void {
    const mode = this.mode();
    if (mode === 'none') return;
    for (const session of Object.values(state.sessions)) {
      const ident = state.identifications[session.conversationId];
      if (session.endedBy || ident?.status !== 'matched' || ident.popped || !ident.contact.recordUrl) continue;
      if (this.now() - session.acceptedAt > POP_WINDOW_MS) continue;
      const { org, contact } = ident;
      let mine = false;
      void this.keeper
        .update((s) => {
          const now = s.identifications[session.conversationId];
          if (now?.status !== 'matched' || now.popped) return s;
          mine = true;
          return setIdentification(s, session.conversationId, { ...now, popped: true });
        })
        // Only the update that set the mark opens the record.
        .then(() => (mine ? this.open(mode, org, contact.recordUrl!) : undefined))
        .catch((error: unknown) => console.warn('[deskbell] screen pop failed:', error));
    }
  }
}
