/**
 * Where the overlay runs. Built in: the hosted CRMs agents use most. Admins
 * add their own sites (options page or policy); each added site needs the
 * host permission, requested on the admin's click. The overlay is injected
 * into their pages once loaded (entrypoints/background/site-scripts.ts).
 */
export const BUILT_IN_CRM_MATCHES = [
  'https://*.dynamics.com/*',
  'https://*.lightning.force.com/*',
  'https://*.my.salesforce.com/*',
  'https://app.hubspot.com/*',
  'https://app-eu1.hubspot.com/*',
];

/**
 * Hosts on this machine: declared as host permissions so a local CRM (or the
 * demo) can be added as a CRM site without a permission prompt. Nothing runs
 * there until an admin adds it.
 */
export const LOCAL_HOSTS = ['http://localhost/*', 'http://127.0.0.1/*'];

/** Earlier builds registered a content script per admin-added site under this id prefix; the worker removes them. */
export const LEGACY_SITE_SCRIPT_PREFIX = 'crm-site:';
