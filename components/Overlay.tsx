/**
 * Toasts and alerts as the agent sees them. Everything the customer wrote is
 * rendered as text by Preact (never as HTML). Buttons act only on trusted
 * events: a script on the CRM page cannot accept or reject for the agent.
 */
import { computed, type ReadonlySignal } from '@preact/signals';
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef } from 'preact/hooks';
import { formatClock, secondsLeft, webUrl } from '../utils/format';
import { t } from '../utils/i18n';
import type { Announcer, OverlayModel } from '../utils/overlay-model';
import { customerName, type Identification } from '../utils/crm/types';
import { hop } from '../utils/hops';
import type { CardView } from '../utils/snapshot';
import { ScenarioIcon } from './icons';
import { scenarioTitle } from './scenario-title';

type Theme = 'dark' | 'light';

/**
 * After this, a card has slid in and stays still: if the host is moved (into
 * a modal dialog, back from fullscreen, put back after the page removed it),
 * nothing plays again.
 */
const SETTLE_MS = 500;



/** Runs the handler only for events the browser marks as coming from the user. */
function trusted<E extends Event>(handler: (event: E) => void) {
  return (event: E) => {
    if (!event.isTrusted) return;
    handler(event);
  };
}

/** The customer as the card names them: the CRM contact once known, else as the channel gave it. */
const nameOf = (card: CardView) => customerName(card.conversation, card.identification);

/** What the overlay's live region says: each card once on arrival, with the time left to answer an alert. */
export const overlayAnnouncer: Announcer = {
  arrived: (card, now) =>
    card.kind === 'alert'
      ? t('announce_offer', scenarioTitle(card.conversation.scenario), nameOf(card), secondsLeft(card.showUntil, now))
      : t('announce_toast', scenarioTitle(card.conversation.scenario), nameOf(card)),
  done: (card, what) => t(`announce_${what}`, nameOf(card)),
};

/** The newest card (the one the focus shortcut goes to): the last to arrive. */
function newestCard(cards: readonly CardView[]): CardView | undefined {
  return cards.reduce<CardView | undefined>((newest, c) => (!newest || c.receivedAt >= newest.receivedAt ? c : newest), undefined);
}

export function Overlay({ model, theme }: { model: OverlayModel; theme: Theme }) {
  const root = useRef<HTMLDivElement>(null);
  /** Where the agent was before the keyboard came into the overlay: Escape goes back there. */
  const before = useRef<HTMLElement | null>(null);
  const focusRequest = model.focusRequest.value;
  useEffect(() => {
    if (focusRequest === 0) return;
    const newest = newestCard(model.shown.value);
    const card = newest && root.current?.querySelector(`[data-card-id="${CSS.escape(newest.id)}"]`);
    const target = card?.querySelector<HTMLElement>('button.accept, .main[tabindex], .reasons button');
    if (!target) return;
    const active = document.activeElement;
    if (active instanceof HTMLElement && !active.hasAttribute('data-deskbell-overlay')) before.current = active;
    target.focus();
  }, [focusRequest]);
  const onKeyDown = (e: JSX.TargetedKeyboardEvent<HTMLDivElement>) => {
    if (e.key !== 'Escape') return;
    const target = e.target as HTMLElement;
    const reasons = target.closest('.reasons');
    if (reasons) {
      // Escape in the reasons is Cancel: back to the card's Reject button.
      const card = target.closest<HTMLElement>('[data-card-id]');
      const offerId = card && model.cards.value.find((c) => c.id === card.dataset.cardId)?.offerId;
      if (offerId) model.cancelReject(offerId);
      requestAnimationFrame(() => card?.querySelector<HTMLElement>('button.reject')?.focus());
    } else if (before.current?.isConnected) {
      before.current.focus();
    } else {
      target.blur();
    }
    e.preventDefault();
    e.stopPropagation();
  };
  return (
    <div
      ref={root}
      class={`root theme-${theme}`}
      onKeyDown={onKeyDown}
      onFocusIn={(e) => {
        const from = e.relatedTarget;
        if (from instanceof HTMLElement && !root.current?.contains(from)) before.current = from;
      }}
    >
      <div class="sr-only" role="status" aria-live="polite">
        {model.announcement.value}
      </div>
      <section class="stack" aria-label={t('overlay_label')}>
        {model.shown.value.map((card) => (
          <Card key={card.id} card={card} model={model} />
        ))}
        {model.hiddenCount.value > 0 && (
          <button type="button" class="more" onClick={trusted(() => (model.expanded.value = true))}>
            {t('more_offers', model.hiddenCount.value)}
          </button>
        )}
        {model.expanded.value && model.cards.value.length > 3 && (
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

const fraction = (left: number, total: number) => Math.max(0, Math.min(1, left / total));

/**
 * A value that moves with the overlay's clock, bound into the DOM as a
 * signal: a tick updates it in place without rendering the component. It is
 * made again when what it is computed from (`deps`) changes, so a card the
 * worker changed (a new deadline, a new clock offset) shows it at once.
 */
function useTicking<T>(now: ReadonlySignal<number>, at: (now: number) => T, deps: readonly unknown[]): ReadonlySignal<T> {
  return useMemo(() => computed(() => at(now.value)), [now, ...deps]);
}

/**
 * The countdown bar, moved once a second with the countdown's text and never
 * animated in between: any running animation, even a compositor-only one,
 * makes the browser produce a frame sixty times a second for as long as the
 * card is up, which without a GPU costs a tenth of a core per visible tab.
 * Its style is bound to the clock: a tick changes it, and renders nothing.
 */
function CountdownBar({ showUntil, total, now }: { showUntil: number; total: number; now: ReadonlySignal<number> }) {
  const style = useTicking(now, (n) => `transform: scaleX(${fraction(showUntil - n, total)})`, [showUntil, total]);
  return <div class="bar" style={style} />;
}

/**
 * An alert (an offer: Accept / Reject, countdown) or a toast (already the
 * agent's: select to open), as the worker decided. What moves with the clock
 * (the countdown, the wait time, the bar, the end of the slide-in) is bound
 * to it directly: a tick changes those texts and styles without rendering
 * the card again.
 */
function Card({ card, model }: { card: CardView; model: OverlayModel }) {
  // Bench builds only: the card is in the DOM (its paint follows).
  useLayoutEffect(() => hop('rendered', card.id), [card.id]);
  const { conversation: c, template, identification: ident } = card;
  const customerName = nameOf(card);
  const now = model.now;
  const skewMs = model.snapshot.value?.skewMs ?? 0;
  const countdown = useTicking(now, (n) => formatClock(secondsLeft(card.showUntil, n) * 1000), [card.showUntil]);
  const countdownLabel = useMemo(() => computed(() => t('time_left', countdown.value)), [countdown]);
  const waited = useTicking(now, (n) => t('waiting', formatClock(n + skewMs - c.waitingSince)), [skewMs, c.waitingSince]);
  const cardClass = useTicking(now, (n) => `card ${card.kind} scenario-${c.scenario}${n - card.receivedAt > SETTLE_MS ? ' settled' : ''}`, [card.kind, c.scenario, card.receivedAt]);
  const busy = model.busy.value.has(card.id);
  const error = model.errors.value[card.id];
  const isAlert = card.kind === 'alert';
  const offerId = card.offerId ?? card.id;
  const choosing = isAlert && model.choosing.value.has(offerId);
  const titleId = `t-${card.id}`;
  const bodyId = `b-${card.id}`;
  const total = Math.max(1, card.showUntil - card.receivedAt);
  const fields = new Set(template.fields);
  const acceptLabel = template.acceptLabel || t('accept');
  const rejectLabel = template.rejectLabel || t('reject');

  const meta: (string | ReadonlySignal<string>)[] = [];
  if (fields.has('waitTime')) meta.push(waited);
  if (fields.has('channel')) meta.push(t(`channel_${c.channel}`));
  if (fields.has('queue') && c.queue) meta.push(c.queue);
  if (fields.has('phone') && c.customer.phone) meta.push(c.customer.phone);
  if (fields.has('email') && c.customer.email) meta.push(c.customer.email);
  const context = fields.has('context') && c.context ? [c.context.fromAgent && t('transferred_by', c.context.fromAgent), c.context.reason].filter(Boolean).join(' · ') : '';

  const accept = trusted<JSX.TargetedMouseEvent<HTMLElement>>(() => void model.accept(offerId));
  const open = trusted<JSX.TargetedMouseEvent<HTMLElement>>(() => void model.open(c.id));
  const onToastKey = trusted<JSX.TargetedKeyboardEvent<HTMLElement>>((e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      void model.open(c.id);
    }
  });

  return (
    <article
      class={cardClass}
      role={isAlert ? 'alertdialog' : 'status'}
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      aria-busy={busy}
      data-card-id={card.id}
      data-scenario={c.scenario}
    >
      <div
        class="main"
        {...(isAlert ? {} : { role: 'button', tabIndex: 0, onClick: open, onKeyDown: onToastKey, 'aria-label': `${t('open')}: ${customerName}` })}
      >
        <span class="badge">
          <ScenarioIcon scenario={c.scenario} />
        </span>
        <div class="text">
          <header class="head">
            <h2 id={titleId} class="title">
              {scenarioTitle(c.scenario)}
            </h2>
            {isAlert && template.showCountdown && (
              <span class="countdown" role="timer" aria-label={countdownLabel}>
                {countdown}
              </span>
            )}
          </header>
          <div id={bodyId}>
            {fields.has('customer') && (
              <p class="customer" dir="auto">
                {customerName}
              </p>
            )}
            {ident && ident.status !== 'channel' && <IdentificationLine ident={ident} />}
            {fields.has('comment') && c.comment && (
              <p class="comment" dir="auto">
                {c.comment}
              </p>
            )}
            {context && (
              <p class="context" dir="auto">
                {context}
              </p>
            )}
            {meta.length > 0 && (
              <p class="meta">
                {meta.map((m, i) => (
                  <span key={i} dir="auto" class={i === 0 && fields.has('waitTime') ? 'wait' : undefined}>
                    {m}
                  </span>
                ))}
              </p>
            )}
          </div>
        </div>
      </div>
      {!isAlert && (
        <button type="button" class="close" aria-label={t('dismiss')} title={t('dismiss')} onClick={trusted(() => void model.dismiss(c.id))}>
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
          <button type="button" class="accept" disabled={busy} onClick={accept}>
            {busy ? t('working') : acceptLabel}
          </button>
          {template.rejectAllowed && (
            <button type="button" class="reject" disabled={busy} onClick={trusted(() => void model.reject(offerId, template.rejectReasons))}>
              {rejectLabel}
            </button>
          )}
        </div>
      )}
      {choosing && (
        <div class="reasons" role="group" aria-label={t('reject_reason_label')}>
          {template.rejectReasons.map((reason) => (
            <button key={reason} type="button" class="reason" disabled={busy} onClick={trusted(() => void model.reject(offerId, template.rejectReasons, reason))}>
              {reason}
            </button>
          ))}
          <button type="button" class="cancel" onClick={trusted(() => model.cancelReject(offerId))}>
            {t('cancel')}
          </button>
        </div>
      )}
      {isAlert && template.showCountdown && (
        <div class="progress" aria-hidden="true">
          <CountdownBar showUntil={card.showUntil} total={total} now={now} />
        </div>
      )}
    </article>
  );
}
