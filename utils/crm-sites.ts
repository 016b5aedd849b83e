/**
 * Where the overlay runs out of the box: the hosted CRMs agents use most, and
 * this machine (the demo CRM, local development). Admins add their own sites
 * on the options page.
 */
export const BUILT_IN_CRM_MATCHES = [
  'https://*.dynamics.com/*',
  'https://*.lightning.force.com/*',
  'https://*.my.salesforce.com/*',
  'https://app.hubspot.com/*',
  'https://app-eu1.hubspot.com/*',
  'http://localhost/*',
  'http://127.0.0.1/*',
];
