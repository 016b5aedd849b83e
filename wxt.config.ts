import preact from '@preact/preset-vite';
import { defineConfig } from 'wxt';
import { BUILT_IN_CRM_MATCHES, LOCAL_HOSTS } from './utils/crm-sites';

/**
 * Build-time default for the feed, so `npm run demo` and the e2e suite get an
 * extension that talks to the local reference server without clicking
 * through the options page. Store builds leave both empty: an admin or a
 * policy sets them.
 */
const defaultFeedUrl = process.env.DESKBELL_FEED_URL ?? '';
const defaultFeedToken = process.env.DESKBELL_FEED_TOKEN ?? '';
/** Comma-separated CRM site patterns a development build starts with (the demo CRM). */
const defaultCrmSites = (process.env.DESKBELL_CRM_SITES ?? '').split(',').filter(Boolean);

export default defineConfig({
  // The demo builds elsewhere, so its preconfigured build never mixes with the test build.
  outDir: process.env.DESKBELL_OUT_DIR ?? '.output',
  modules: ['@wxt-dev/webextension-polyfill'],
  // Explicit imports everywhere: the same modules are shared with the Node server.
  imports: false,
  vite: () => ({
    plugins: [preact()],
    define: {
      __DESKBELL_DEFAULT_FEED_URL__: JSON.stringify(defaultFeedUrl),
      __DESKBELL_DEFAULT_FEED_TOKEN__: JSON.stringify(defaultFeedToken),
      __DESKBELL_DEFAULT_CRM_SITES__: JSON.stringify(defaultCrmSites),
      // Only `npm run build:audit` opens the overlay's shadow root, for the accessibility audit; every other build mounts it closed.
      __DESKBELL_AUDIT_BUILD__: JSON.stringify(process.env.DESKBELL_AUDIT_BUILD === '1'),
      // Only `npm run bench` marks each hop of an offer (utils/hops.ts) for the latency breakdown.
      __DESKBELL_BENCH_MARKS__: JSON.stringify(process.env.DESKBELL_BENCH_MARKS === '1'),
    },
    build: { target: 'chrome116' },
  }),
  manifest: {
    name: '__MSG_extName__',
    description: '__MSG_extDescription__',
    default_locale: 'en',
    minimum_chrome_version: '116',
    // cookies: the Salesforce session id of the agent's own Lightning tab (utils/crm/salesforce.ts); no install warning of its own.
    // identity: the agent's sign-in with the organisation's provider (launchWebAuthFlow); no install warning.
    permissions: ['storage', 'alarms', 'scripting', 'notifications', 'offscreen', 'cookies', 'identity'],
    host_permissions: [...BUILT_IN_CRM_MATCHES, ...LOCAL_HOSTS],
    // Admin-added CRM sites: asked for one by one, on the admin's click.
    optional_host_permissions: ['https://*/*', 'http://*/*'],
    storage: { managed_schema: 'managed_schema.json' },
    commands: {
      'accept-newest': { suggested_key: { default: 'Alt+Shift+Y' }, description: 'Accept the newest conversation offered' },
      'reject-newest': { suggested_key: { default: 'Alt+Shift+K' }, description: 'Reject the newest conversation offered' },
      'open-panel': { suggested_key: { default: 'Alt+Shift+D' }, description: 'Open the Deskbell conversation panel' },
      'focus-cards': { suggested_key: { default: 'Alt+Shift+J' }, description: 'Move the keyboard to the newest Deskbell alert or toast (Escape goes back)' },
    },
    action: { default_title: 'Deskbell' },
  },
});
