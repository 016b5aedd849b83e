/** The toolbar popup: is the feed connected, and what is waiting. */
import { formatClock } from '../utils/format';
import { t } from '../utils/i18n';
import type { BackgroundClient } from '../utils/background-client';
import { scenarioTitle } from './Overlay';

export function Popup({ client }: { client: BackgroundClient }) {
  const connection = client.view.value?.connection;
  const offers = client.view.value?.offers ?? [];
  const status = connection?.status ?? 'idle';
  return (
    <main class="popup">
      <header>
        <h1>{t('extName')}</h1>
        <p class={`status status-${status}`} data-status={status}>
          <span class="dot" aria-hidden="true" />
          {t(`connection_${status}`)}
          {connection?.agentName ? ` · ${connection.agentName}` : ''}
        </p>
        {connection?.lastError && status !== 'open' && <p class="hint">{connection.lastError}</p>}
      </header>
      <section aria-label={t('pending_offers')}>
        {offers.length === 0 ? (
          <p class="empty">{t('no_pending_offers')}</p>
        ) : (
          <ul>
            {offers.map((o) => (
              <li key={o.offerId}>
                <strong>{o.conversation.customer.name}</strong>
                <span>
                  {scenarioTitle(o.conversation.scenario)} · {formatClock(o.deadline - Date.now())}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </main>
  );
}
