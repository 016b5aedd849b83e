/** The agent and API key the demo and `npm run server` use when none are configured. */
export const DEMO_AGENT = { id: 'agent-1', name: 'Alex Morgan', token: 'demo-agent-token' };
export const DEMO_API_KEY = 'demo-api-key';
