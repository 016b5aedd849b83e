/**
 * Demo traffic through the public HTTP API, as a channel integration would
 * send it: customers arrive on every scenario, write follow-ups while they
 * wait or talk, and some leave.
 */
import type { Scenario } from '../protocol/feed.ts';

interface Persona {
  name: string;
  phone: string;
  email: string;
}

const PEOPLE: Persona[] = [
  { name: 'Maria Jansen', phone: '+31 6 12345678', email: 'maria.jansen@example.nl' },
  { name: 'Tom Becker', phone: '+49 151 23456789', email: 'tom.becker@example.de' },
  { name: 'Aisha Khan', phone: '+44 7700 900123', email: 'aisha.khan@example.co.uk' },
  { name: 'Lucas Martin', phone: '+33 6 12 34 56 78', email: 'lucas.martin@example.fr' },
  { name: 'Sofia Rossi', phone: '+39 312 345 6789', email: 'sofia.rossi@example.it' },
  { name: 'Daniel Kim', phone: '+1 415 555 0134', email: 'daniel.kim@example.com' },
];

const OPENERS: Record<Scenario, string[]> = {
  chat: ['My order #48213 has not arrived yet.', 'Can I change the delivery address of my order?', 'The app logs me out every few minutes.'],
  sms: ['Hi, my invoice shows a double charge for October.', 'When will the technician arrive?'],
  facebook: ['Saw your ad, do you ship to Belgium?', 'Your store in Utrecht was closed today, why?'],
  'work-item': ['Follow up on the warranty claim from last week.', 'Customer asked for a call back about the contract renewal.'],
  transfer: ['Billing question, needs a refund approval.', 'Technical issue beyond first line.'],
  escalation: ['Customer is unhappy with the refund delay.', 'Second complaint about the same defect.'],
  'bot-escalation': ['I want to talk to a person.', 'The bot could not find my reservation.'],
};

const FOLLOW_UPS = ['Hello? Is anyone there?', 'Thanks, take your time.', 'I can send a photo if that helps.', 'Any news?'];

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

export function simulatedConversation(scenario: Scenario, person: Persona = pick(PEOPLE)) {
  const comment = pick(OPENERS[scenario]);
  const now = Date.now();
  return {
    scenario,
    customer: { name: person.name, ...(scenario === 'sms' ? { phone: person.phone } : { email: person.email }) },
    comment,
    queue: scenario === 'work-item' ? 'Back office' : scenario === 'escalation' ? 'Supervisors' : 'Customer service',
    waitedSec: Math.floor(Math.random() * 90),
    ...(scenario === 'transfer' ? { context: { fromAgent: 'Sam Lee', reason: 'Needs a supervisor to approve the refund' } } : {}),
    ...(scenario === 'escalation' ? { context: { reason: 'Customer asked twice for a manager' } } : {}),
    ...(scenario === 'bot-escalation'
      ? {
          context: {
            reason: 'The bot could not answer',
            botTranscript: [
              { id: `bot-${now}-1`, conversationId: 'pending', from: 'customer' as const, text: comment, at: now - 60_000 },
              { id: `bot-${now}-2`, conversationId: 'pending', from: 'bot' as const, text: 'Let me get you a colleague.', at: now - 55_000, author: 'Deskbell bot' },
            ],
          },
        }
      : {}),
  };
}

export interface SimulatorOptions {
  apiUrl: string;
  apiKey: string;
  everySec: number;
  signal: AbortSignal;
}

export async function runSimulator({ apiUrl, apiKey, everySec, signal }: SimulatorOptions): Promise<void> {
  const scenarios: Scenario[] = ['chat', 'sms', 'facebook', 'work-item', 'transfer', 'escalation', 'bot-escalation'];
  const live: string[] = [];
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify(body),
      signal,
    });
    return res.ok ? ((await res.json()) as Record<string, { id: string }>) : undefined;
  };
  let turn = 0;
  while (!signal.aborted) {
    try {
      const created = await post('/api/conversations', simulatedConversation(scenarios[turn++ % scenarios.length]!));
      if (created?.conversation) live.push(created.conversation.id);
      if (live.length > 0 && Math.random() < 0.5) await post(`/api/conversations/${pick(live)}/messages`, { text: pick(FOLLOW_UPS) });
      if (live.length > 8) await post(`/api/conversations/${live.shift()}/end`, {});
    } catch (error) {
      if (signal.aborted) return;
      console.error(`simulator: ${(error as Error).message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everySec * 1000 * (0.5 + Math.random())));
  }
}
