/**
 * Content script on CRM pages: mounts the overlay and nothing else. Declared
 * nowhere: the worker injects it once a CRM page has loaded
 * (entrypoints/background/site-scripts.ts), so it never holds a load back.
 */
import { defineContentScript } from 'wxt/utils/define-content-script';
import { BUILT_IN_CRM_MATCHES } from '../../utils/crm-sites';
import { mountOverlay } from './mount';

export default defineContentScript({
  // The built-in CRMs stay host permissions; the script itself is not in the manifest.
  matches: BUILT_IN_CRM_MATCHES,
  registration: 'runtime',
  // WXT's legacy broadcast would tell every page script our extension id.
  noScriptStartedPostMessage: true,
  main() {
    // Out of the page's way: mount when the page is idle (it has loaded by the time the worker injects this).
    const mount = () => requestIdleCallback(() => mountOverlay(), { timeout: 500 });
    if (document.readyState === 'complete') mount();
    else window.addEventListener('load', mount, { once: true });
  },
});
