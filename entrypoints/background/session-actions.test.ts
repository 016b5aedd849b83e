import { describe, expect, it } from 'vitest';
import type { FeedCommand } from './feed-client';
import { applyEvent, EMPTY_STATE, setIdentification } from './feed-state';
import type { Conversation } from '../../protocol/feed';
import { SessionActions } from './session-actions';
import { StateKeeper } from './state-keeper';

const conversation: Conversation = { id: 'c1', scenario: 'chat', channel: 'chat', customer: { name: 'Maria', phone: '+31612345678' }, comment: 'hi', waitingSince: 0, status: 'active' };
const contact = (id: string) => ({ id, name: `Contact ${id}`, phone: '+31612345678' });

function setup(connected = true, ended = false) {
  let state = applyEvent(EMPTY_STATE, { type: 'accepted', seq: 1, offerId: 'o1', conversation, transcript: [] }, 0);
  if (ended) state = applyEvent(state, { type: 'conversation-ended', seq: 2, conversationId: 'c1', by: 'customer' }, 1);
  state = setIdentification(state, 'c1', { status: 'ambiguous', phone: '+31612345678', candidates: [contact('x'), contact('y')] });
  const sent: FeedCommand[] = [];
  const keeper = new StateKeeper({ load: async () => state, save: async () => {}, onChange: () => {}, scheduleWake: () => {} });
  const feed = { send: (c: FeedCommand) => connected && (sent.push(c), true) };
  return { keeper, sent, actions: new SessionActions(keeper, feed) };
}

describe('SessionActions', () => {
  it('sends and ends an open conversation through the feed', async () => {
    const t = setup();
    expect(await t.actions.send('c1', 'm1', 'Hello')).toEqual({ ok: true });
    expect(await t.actions.end('c1')).toEqual({ ok: true });
    expect(t.sent).toEqual([
      { type: 'send', conversationId: 'c1', clientMsgId: 'm1', text: 'Hello' },
      { type: 'end', conversationId: 'c1' },
    ]);
  });

  it('says why it cannot: not open, ended, feed down; closes only what has ended', async () => {
    expect(await setup().actions.send('nope', 'm1', 'Hi')).toEqual({ ok: false, error: 'This conversation is not open.' });
    expect(await setup(false).actions.send('c1', 'm1', 'Hi')).toEqual({ ok: false, error: 'Not connected to the conversation feed.' });
    expect(await setup().actions.close('c1')).toEqual({ ok: false, error: 'End the conversation before closing it.' });
    const ended = setup(true, true);
    expect(await ended.actions.send('c1', 'm1', 'Hi')).toEqual({ ok: false, error: 'This conversation has ended.' });
    expect(await ended.actions.end('c1')).toEqual({ ok: true });
    expect(ended.sent).toEqual([]);
    expect(await ended.actions.close('c1')).toEqual({ ok: true });
    expect(ended.keeper.state.sessions.c1).toBeUndefined();
  });

  it('takes a contact only from the matches', async () => {
    const t = setup();
    expect(await t.actions.pickContact('c1', 'z')).toEqual({ ok: false, error: 'That contact is not one of the matches.' });
    expect(await t.actions.pickContact('c1', 'y')).toEqual({ ok: true });
    expect(t.keeper.state.identifications.c1).toMatchObject({ status: 'matched', contact: { id: 'y' }, picked: true });
  });
});
