import { describe, expect, it } from 'vitest';
import type { FeedCommand } from './feed-client';
import { applyEvent, EMPTY_STATE, setIdentification } from './feed-state';
import type { Conversation, Message } from '../../protocol/feed';
import { SessionActions } from './session-actions';
import { StateKeeper } from './state-keeper';

const conversation: Conversation = { id: 'c1', scenario: 'chat', channel: 'chat', customer: { name: 'Maria', phone: '+31612345678' }, comment: 'hi', waitingSince: 0, status: 'active' };
const contact = (id: string) => ({ id, name: `Contact ${id}`, phone: '+31612345678' });

function setup(connected = true, ended = false) {
  let state = applyEvent(EMPTY_STATE, { type: 'accepted', seq: 1, offerId: 'o1', conversation, transcript: [] }, 0);
  if (ended) state = applyEvent(state, { type: 'conversation-ended', seq: 2, conversationId: 'c1', by: 'customer' }, 1);
  state = setIdentification(state, 'c1', { status: 'ambiguous', phone: '+31612345678', org: { crm: 'dynamics365', origin: 'https://org.crm4.dynamics.com' }, candidates: [contact('x'), contact('y')] });
  const sent: FeedCommand[] = [];
  // As in the worker: each saved change is shown to the actions, which answer the commands it settles.
  const keeper: StateKeeper = new StateKeeper({ load: async () => state, save: async () => {}, onChange: (s) => actions.stateChanged(s), scheduleWake: () => {} });
  const feed = { send: (c: FeedCommand) => connected && (sent.push(c), true) };
  const actions = new SessionActions(keeper, feed);
  /** The feed echoes what was sent (a message event with the client's id). */
  const echo = async (seq: number, message: Partial<Message> = {}) => {
    await new Promise((r) => setTimeout(r, 0));
    const command = sent.findLast((c) => c.type === 'send');
    if (command?.type !== 'send') throw new Error('nothing sent');
    return keeper.update((s, now) =>
      applyEvent(s, { type: 'message', seq, message: { id: `msg-${seq}`, conversationId: 'c1', from: 'agent', text: command.text, at: now, clientMsgId: command.clientMsgId, ...message } }, now),
    );
  };
  return { keeper, sent, actions, echo };
}

describe('SessionActions', () => {
  it('sends and ends an open conversation through the feed', async () => {
    const t = setup();
    const sending = t.actions.send('c1', 'm1', 'Hello');
    await t.echo(3);
    expect(await sending).toEqual({ ok: true });
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

  it('a send the feed refuses is answered with the feed\'s reason', async () => {
    const t = setup();
    const sending = t.actions.send('c1', 'm1', 'x'.repeat(1601));
    await new Promise((r) => setTimeout(r, 0));
    t.actions.commandFailed({ message: 'an SMS reply is at most 1600 characters; this one has 1601', ref: 'm1' });
    expect(await sending).toEqual({ ok: false, error: 'an SMS reply is at most 1600 characters; this one has 1601' });
  });

  it('retries delivery only of a reply that failed where retrying helps', async () => {
    const t = setup();
    const sending = t.actions.send('c1', 'm1', 'Hello');
    await t.echo(3, { delivery: { status: 'failed', at: 1, error: { code: '30003', text: 'unreachable' }, retryable: true } });
    await sending;
    t.sent.length = 0;
    const retrying = t.actions.retryDelivery('c1', 'msg-3');
    await new Promise((r) => setTimeout(r, 0));
    expect(t.sent).toEqual([{ type: 'retry-delivery', conversationId: 'c1', messageId: 'msg-3' }]);
    await t.keeper.update((s, now) => applyEvent(s, { type: 'message-status', seq: 4, conversationId: 'c1', messageId: 'msg-3', delivery: { status: 'queued', at: 2 } }, now));
    expect(await retrying).toEqual({ ok: true });
    expect(t.keeper.state.sessions.c1!.transcript[0]!.delivery).toEqual({ status: 'queued', at: 2 });
    // Queued now: there is nothing to retry.
    expect(await t.actions.retryDelivery('c1', 'msg-3')).toEqual({ ok: false, error: 'This message cannot be sent again: retrying would not help.' });
  });

  it('takes a contact only from the matches', async () => {
    const t = setup();
    expect(await t.actions.pickContact('c1', 'z')).toEqual({ ok: false, error: 'That contact is not one of the matches.' });
    expect(await t.actions.pickContact('c1', 'y')).toEqual({ ok: true });
    expect(t.keeper.state.identifications.c1).toMatchObject({ status: 'matched', contact: { id: 'y' }, picked: true });
  });
});
