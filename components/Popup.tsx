/** The toolbar popup: the agent's status, whether the feed is connected, and what is waiting. */
import { formatClock } from '../utils/format';
import { t } from '../utils/i18n';
import { PRESENCES, type Presence } from '../protocol/feed';
import type { BackgroundClient } from '../utils/background-client';
import { scenarioTitle } from './scenario-title';
import { SignInBar } from './SignInBar';
import { customerName } from '../utils/crm/types';

interface Props {
  client: BackgroundClient;
  presence: Presence;
  now: number;
  onPresence(presence: Presence): void;
  onSettings(): void;
}

export function Popup({ client, presence, now, onPresence, onSettings }: Props) {
  const connection = client.view.value?.connection;
  const view = client.view.value;
  const offers = (view?.cards ?? []).filter((c) => c.kind === 'alert');
  const status = connection?.status ?? 'idle';
  // As Dynamics 365 does: an agent whose conversations fill their capacity is busy, whatever they chose.
  const load = (view?.sessionDetails.filter((s) => !s.endedBy).length ?? 0) + offers.length;
  const full = view?.capacity !== undefined && load >= view.capacity;
  return (
    <main class="popup">
      <header>
        <h1>{t('extName')}</h1>
        <p class={`status status-${status}`} data-status={status}>
          <span class="dot" aria-hidden="true" />
          {t(`connection_${status}`)}
          {connection?.agentName ? ` · ${connection.agentName}` : ''}
        </p>
        {/* Signed out, the sign-in bar says why. */}
        {connection?.lastError && status !== 'open' && !(view?.signIn && view.signIn.status !== 'signed-in') && <p class="hint">{connection.lastError}</p>}
      </header>
      <SignInBar signIn={view?.signIn} onSignIn={() => client.signIn()} onSignOut={() => client.signOut()} />
      <fieldset class="presence">
        <legend>{t('presence')}</legend>
        {PRESENCES.map((p) => (
          <label key={p} class={`presence-${p}`}>
            <input type="radio" name="presence" value={p} checked={presence === p} onChange={() => onPresence(p)} />
            <span class="dot" aria-hidden="true" /> {t(`presence_${p}`)}
          </label>
        ))}
        {full && presence === 'available' && (
          <p class="capacity" data-capacity="full">
            {t('presence_at_capacity', load, view.capacity!)}
          </p>
        )}
      </fieldset>
      <section aria-label={t('pending_offers')}>
        {offers.length === 0 ? (
          <p class="empty">{t('no_pending_offers')}</p>
        ) : (
          <ul>
            {offers.map((o) => (
              <li key={o.id}>
                <strong>{customerName(o.conversation, o.identification)}</strong>
                <span>
                  {scenarioTitle(o.conversation.scenario)} · {formatClock(o.showUntil - now)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
      <footer>
        <button type="button" class="link" onClick={onSettings}>
          {t('open_settings')}
        </button>
      </footer>
    </main>
  );
}
