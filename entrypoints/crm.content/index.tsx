/** Content script on CRM pages: mounts the overlay and nothing else. */
import { defineContentScript } from 'wxt/utils/define-content-script';
import { BUILT_IN_CRM_MATCHES } from '../../utils/crm-sites';
import { mountOverlay } from './mount';

export default defineContentScript({
  matches: BUILT_IN_CRM_MATCHES,
  runAt: 'document_idle',
  main(ctx) {
    mountOverlay(ctx);
  },
});
