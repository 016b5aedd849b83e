/**
 * Toasts and alerts as the agent sees them. Everything the customer wrote is
 * rendered as text by Preact (never as HTML). Buttons act only on trusted
 * events: a script on the CRM page cannot accept or reject for the agent.
 */
import { useComputed } from '@preact/signals';
import type { JSX } from 'preact';
import { formatClock, secondsLeft, webUrl } from '../utils/format';
import { t } from '../utils/i18n';
import type { OverlayModel } from '../utils/overlay-model';
import type { Identification } from '../utils/crm/types';
import type { OfferView } from '../utils/snapshot';
import { ScenarioIcon } from './icons';
import { scenarioTitle } from './scenario-title';

type Theme = 'dark' | 'light';



/** Runs the handler only for events the browser marks as coming from the user. */
function trusted<E extends Event>(handler: (event: E) => void) {
  return (event: E) => {
    if (!event.isTrusted) return;
    handler(event);
  };
}

export function Overlay({ model, theme }: { model: OverlayModel; theme: Theme }) {
  const announcement = useComputed(() => {
    const newest = model.offers.value.at(-1);
    return newest ? t('announce_offer', scenarioTitle(newest.conversation.scenario), newest.conversation.customer.name) : '';
  });
  return (
    <div class={`root theme-${theme}`}>
      <div class="sr-only" role="status" aria-live="polite">
        {announcement}
      </div>
      <section class="stack" aria-label={t('overlay_label')}>
        {model.shown.value.map((offer) => (
          <OfferCard key={offer.offerId} offer={offer} model={model} />
        ))}
        {model.hiddenCount.value > 0 && (
          <button type="button" class="more" onClick={trusted(() => (model.expanded.value = true))}>
            {t('more_offers', model.hiddenCount.value)}
          </button>
        )}
        {model.expanded.value && model.offers.value.length > 3 && (
          <button type="button" class="more" onClick={trusted(() => (model.expanded.value = false))}>
            {t('show_fewer')}
          </button>
        )}
      </section>
    </div>
  );
}

/** What the CRM said about the customer's number. The record link comes through a CRM page: http(s) only. */
function IdentificationLine({ ident }: { ident: Exclude<Identification, { status: 'channel' }> }) {
  switch (ident.status) {
    case 'pending':
      return <p class="ident pending">{t('ident_pending')}</p>;
    case 'matched': {
      const record = webUrl(ident.contact.recordUrl);
      return (
        <p class="ident matched">
          {t('ident_matched')}
          {record && (
            <>
              {' · '}
              <a href={record} target="_blank" rel="noopener noreferrer">
                {t('ident_open_record')}
              </a>
            </>
          )}
        </p>
      );
    }
    case 'ambiguous':
      return <p class="ident ambiguous">{t('ident_ambiguous', ident.candidates.length)}</p>;
    default:
      return <p class="ident problem">{ident.message}</p>;
  }
}

function OfferCard({ offer, model }: { offer: OfferView; model: OverlayModel }) {
  const { conversation: c, template, identification: ident } = offer;
  const customerName = ident?.status === 'matched' ? ident.contact.name : c.customer.name;
  const now = model.now.value;
  const busy = model.busy.value.has(offer.offerId);
  const error = model.errors.value[offer.offerId];
  const isAlert = template.kind === 'alert' || !!offer.autoAccepted;
  const choosing = model.choosing.value.has(offer.offerId);
  const titleId = `t-${offer.offerId}`;
  const bodyId = `b-${offer.offerId}`;
  const left = secondsLeft(offer.deadline, now);
  const total = Math.max(1, offer.deadline - offer.receivedAt);
  const fields = new Set(template.fields);
  const acceptLabel = offer.autoAccepted ? t('open') : template.acceptLabel || t('accept');
  const rejectLabel = template.rejectLabel || t('reject');

  const meta: string[] = [];
  if (fields.has('waitTime')) meta.push(t('waiting', formatClock(now + (model.snapshot.value?.skewMs ?? 0) - c.waitingSince)));
  if (fields.has('channel')) meta.push(t(`channel_${c.channel}`));
  if (fields.has('queue') && c.queue) meta.push(c.queue);
  if (fields.has('phone') && c.customer.phone) meta.push(c.customer.phone);
  if (fields.has('email') && c.customer.email) meta.push(c.customer.email);
  const context = fields.has('context') && c.context ? [c.context.fromAgent && t('transferred_by', c.context.fromAgent), c.context.reason].filter(Boolean).join(' · ') : '';

  const open = trusted<JSX.TargetedMouseEvent<HTMLElement>>(() => void (offer.autoAccepted ? model.open(offer.offerId) : model.accept(offer.offerId)));
  const onToastKey = trusted<JSX.TargetedKeyboardEvent<HTMLElement>>((e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      void model.accept(offer.offerId);
    }
  });

  return (
    <article
      class={`card ${template.kind} scenario-${c.scenario}`}
      role={isAlert ? 'alertdialog' : 'status'}
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      aria-busy={busy}
      data-offer-id={offer.offerId}
      data-scenario={c.scenario}
    >
      <div
        class="main"
        {...(isAlert ? {} : { role: 'button', tabIndex: 0, onClick: open, onKeyDown: onToastKey, 'aria-label': `${acceptLabel}: ${customerName}` })}
      >
        <span class="badge">
          <ScenarioIcon scenario={c.scenario} />
        </span>
        <div class="text">
          <header class="head">
            <h2 id={titleId} class="title">
              {scenarioTitle(c.scenario)}
            </h2>
            {isAlert && !offer.autoAccepted && template.showCountdown && (
              <span class="countdown" aria-label={t('time_left', formatClock(left * 1000))}>
                {formatClock(left * 1000)}
              </span>
            )}
          </header>
          <div id={bodyId}>
            {fields.has('customer') && <p class="customer">{customerName}</p>}
            {ident && ident.status !== 'channel' && <IdentificationLine ident={ident} />}
            {fields.has('comment') && c.comment && <p class="comment">{c.comment}</p>}
            {context && <p class="context">{context}</p>}
            {meta.length > 0 && (
              <p class="meta">
                {meta.map((m, i) => (
                  <span key={i} class={i === 0 && fields.has('waitTime') ? 'wait' : undefined}>
                    {m}
                  </span>
                ))}
              </p>
            )}
          </div>
        </div>
      </div>
      {!isAlert && (
        <button type="button" class="close" aria-label={t('dismiss')} title={t('dismiss')} onClick={trusted(() => model.dismiss(offer.offerId))}>
          <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round">
            <path d="M4 4l8 8M12 4l-8 8" />
          </svg>
        </button>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {isAlert && !choosing && (
        <div class="actions">
          <button type="button" class="accept" disabled={busy} onClick={open}>
            {busy ? t('working') : acceptLabel}
          </button>
          {template.rejectAllowed && !offer.autoAccepted && (
            <button type="button" class="reject" disabled={busy} onClick={trusted(() => void model.reject(offer.offerId, template.rejectReasons))}>
              {rejectLabel}
            </button>
          )}
        </div>
      )}
      {choosing && (
        <div class="reasons" role="group" aria-label={t('reject_reason_label')}>
          {template.rejectReasons.map((reason) => (
            <button key={reason} type="button" class="reason" disabled={busy} onClick={trusted(() => void model.reject(offer.offerId, template.rejectReasons, reason))}>
              {reason}
            </button>
          ))}
          <button type="button" class="cancel" onClick={trusted(() => model.cancelReject(offer.offerId))}>
            {t('cancel')}
          </button>
        </div>
      )}
      {isAlert && !offer.autoAccepted && template.showCountdown && (
        <div class="progress" aria-hidden="true">
          <div class="bar" style={{ transform: `scaleX(${Math.max(0, Math.min(1, (offer.deadline - now) / total))})` }} />
        </div>
      )}
    </article>
  );
}
