/**
 * One conversation of each scenario, as a channel would create it, with what
 * the overlay must show under the feed's default routing: chat, SMS and
 * Facebook are offered (alerts); the rest are assigned (toasts).
 */
import type { CardInfo } from './overlay-page';

export interface ScenarioCase {
  request: { scenario: string; [key: string]: unknown };
  expected: Partial<CardInfo>;
}

export const SCENARIO_CASES: ScenarioCase[] = [
  {
    request: { scenario: 'chat', customer: { name: 'Maria Jansen' }, comment: 'My order #48213 has not arrived yet.', queue: 'Customer service', waitedSec: 42 },
    expected: { kind: 'alert', role: 'alertdialog', title: 'Incoming chat', customer: 'Maria Jansen', buttons: ['Accept', 'Reject'] },
  },
  {
    request: { scenario: 'sms', customer: { name: 'Tom Becker', phone: '+49 151 23456789' }, comment: 'Hi, my invoice shows a double charge.', waitedSec: 8 },
    expected: { kind: 'alert', title: 'Incoming SMS', customer: 'Tom Becker', buttons: ['Accept', 'Reject'] },
  },
  {
    request: { scenario: 'facebook', customer: { name: 'Lucas Martin' }, comment: 'Do you ship to Belgium?', queue: 'Social' },
    expected: { kind: 'alert', title: 'Incoming Facebook message', customer: 'Lucas Martin', buttons: ['Accept', 'Reject'] },
  },
  {
    request: { scenario: 'work-item', customer: { name: 'Aisha Khan' }, comment: 'Follow up on the warranty claim.', queue: 'Back office' },
    expected: { kind: 'toast', role: 'status', title: 'Conversation assigned', customer: 'Aisha Khan', buttons: [] },
  },
  {
    request: {
      scenario: 'transfer',
      customer: { name: 'Sofia Rossi' },
      comment: 'Refund for a damaged parcel.',
      context: { fromAgent: 'Sam Lee', reason: 'Needs a supervisor to approve the refund' },
    },
    expected: { kind: 'toast', role: 'status', title: 'Transferred conversation', customer: 'Sofia Rossi', context: 'From Sam Lee · Needs a supervisor to approve the refund', buttons: [] },
  },
  {
    request: { scenario: 'escalation', customer: { name: 'Daniel Kim' }, comment: 'Second complaint about the same defect.', context: { reason: 'Customer asked for a manager' } },
    expected: { kind: 'toast', title: 'Escalation', customer: 'Daniel Kim', context: 'Customer asked for a manager', buttons: [] },
  },
  {
    request: {
      scenario: 'bot-escalation',
      customer: { name: 'Emma de Vries' },
      comment: 'I want to talk to a person.',
      context: { reason: 'The bot could not find the reservation' },
      waitedSec: 95,
    },
    expected: { kind: 'toast', role: 'status', title: 'Escalated by the bot', customer: 'Emma de Vries', context: 'The bot could not find the reservation', buttons: [] },
  },
];
