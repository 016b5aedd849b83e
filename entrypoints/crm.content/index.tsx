/** Content script on CRM pages: mounts the overlay and nothing else. */
import { defineContentScript } from 'wxt/utils/define-content-script';
import { BUILT_IN_CRM_MATCHES } from '../../utils/crm-sites';
import { mountOverlay } from './mount';

export default defineContentScript({
  matches: BUILT_IN_CRM_MATCHES,
  runAt: 'document_idle',
  // WXT's legacy broadcast would tell every page script our extension id.
  noScriptStartedPostMessage: true,
  main() {
    // Out of the page's way: mount once the page has loaded and is idle, so
    // the overlay never adds to the CRM's own load time.
    const mount = () => requestIdleCallback(() => mountOverlay(), { timeout: 500 });
    if (document.readyState === 'complete') mount();
    else window.addEventListener('load', mount, { once: true });
  },
});
