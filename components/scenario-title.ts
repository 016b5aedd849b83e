/** The translated title of each scenario, shared by the overlay, pages and desktop notifications. */
import { type MessageKey, t } from '../utils/i18n';
import type { Scenario } from '../protocol/feed';

const SCENARIO_TITLE: Record<Scenario, MessageKey> = {
  chat: 'scenario_chat',
  sms: 'scenario_sms',
  facebook: 'scenario_facebook',
  'work-item': 'scenario_work_item',
  transfer: 'scenario_transfer',
  escalation: 'scenario_escalation',
  'bot-escalation': 'scenario_bot_escalation',
};

export const scenarioTitle = (s: Scenario) => t(SCENARIO_TITLE[s]);
