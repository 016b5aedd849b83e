/** Channel and scenario icons: 20×20 strokes, currentColor, no external files. */
import type { Scenario } from '../protocol/feed';

const PATHS: Record<Scenario, string> = {
  chat: 'M4 5h12a1 1 0 0 1 1 1v7a1 1 0 0 1-1 1H9l-4 3v-3H4a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z',
  sms: 'M7 2.5h6a1.5 1.5 0 0 1 1.5 1.5v12a1.5 1.5 0 0 1-1.5 1.5H7A1.5 1.5 0 0 1 5.5 16V4A1.5 1.5 0 0 1 7 2.5zM9 15h2',
  facebook: 'M10 2.5c-4.4 0-7.5 3.1-7.5 7 0 2.2 1 4 2.7 5.3v2.7l2.5-1.4c.7.2 1.5.3 2.3.3 4.4 0 7.5-3.1 7.5-6.9s-3.1-7-7.5-7zM5.5 11.5l3-3 2 2 3.5-3-3 3.5-2-2z',
  'work-item': 'M7 3.5h6M6 3.5H5a1 1 0 0 0-1 1v12a1 1 0 0 0 1 1h10a1 1 0 0 0 1-1v-12a1 1 0 0 0-1-1h-1M7 9.5l2 2 4-4M7 14h6',
  transfer: 'M3 7h12l-3-3M17 13H5l3 3',
  escalation: 'M10 16.5V4M5 9l5-5 5 5',
  'bot-escalation': 'M6 7h8a2 2 0 0 1 2 2v5a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2zM10 7V4M8 11.5h.01M12 11.5h.01M3 11v2M17 11v2',
};

export function ScenarioIcon({ scenario }: { scenario: Scenario }) {
  return (
    <svg class="icon" viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">
      <path d={PATHS[scenario]} />
    </svg>
  );
}
