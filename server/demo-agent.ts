/**
 * The agent and API key of `--demo` (`npm run demo`, `npm run simulate`).
 * They are public, so nothing else ever uses them: a server started without
 * `--demo` has neither.
 */
export const DEMO_AGENT = { id: 'agent-1', name: 'Alex Morgan', token: 'deskbell-demo-agent-token' };
export const DEMO_API_KEY = 'deskbell-demo-api-key-local';
