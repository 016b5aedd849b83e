/**
 * The side panel: one tab per accepted conversation (newest focused), the
 * customer summary, and the live communication pane.
 */
import { useSignal, useSignalEffect } from '@preact/signals';
import { memo } from 'preact/compat';
import { useEffect, useRef } from 'preact/hooks';
import type { SessionEntry } from '../utils/state';
import { CRM_LABELS } from '../utils/crm/api';
import { customerName, type Identification, type MatchedBy } from '../utils/crm/types';

/** How the summary says why this contact is the customer. */
const MATCHED_BY: Record<MatchedBy, MessageKey> = {
  mobile: 'matched_mobile',
  business: 'matched_business',
  home: 'matched_home',
  phone: 'matched_phone',
  email: 'matched_email',
  'crm-id': 'matched_crm_id',
  picked: 'matched_picked',
  created: 'matched_created',
};
import { composerRule } from '../utils/channel-rules';
import { formatClock, linkify, webUrl } from '../utils/format';
import { type MessageKey, t } from '../utils/i18n';
import type { Message } from '../protocol/feed';
import type { OutgoingMessage, SidePanelModel } from '../utils/sidepanel-model';
import { ScenarioIcon } from './icons';
import { scenarioTitle } from './scenario-title';
import { SignInBar } from './SignInBar';

/**
 * What the side panel says politely, in every session (the agent may be
 * looking at another): the customer's new messages ("New message from Maria
 * Jansen: …"), and a reply that did not reach the customer or that the feed
 * refused, with why. What was there when a session first showed is not read.
 */
function usePanelAnnouncements(sessions: readonly SessionEntry[], outgoing: readonly OutgoingMessage[], nameOf: (s: SessionEntry) => string): string {
  const seen = useRef(new Set<string>());
  const known = useRef(new Set<string>());
  /** Replies already said to have failed (by message id, or client id while unsent). */
  const failed = useRef(new Set<string>());
  const said = useSignal('');
  useEffect(() => {
    const fresh: string[] = [];
    for (const session of sessions) {
      const name = nameOf(session);
      // A session seen for the first time brings its history: that is not news.
      const isNew = !known.current.has(session.conversationId);
      known.current.add(session.conversationId);
      for (const m of session.transcript) {
        const first = !seen.current.has(m.id);
        seen.current.add(m.id);
        if (first && !isNew && m.from === 'customer') fresh.push(t('panel_new_message', name, (m.text || t('attachments')).slice(0, 300)));
        if (m.delivery?.status === 'failed' && !failed.current.has(m.id)) {
          failed.current.add(m.id);
          if (!isNew) fresh.push(t('panel_not_delivered', name, m.delivery.error?.text ?? ''));
        } else if (m.delivery?.status !== 'failed') failed.current.delete(m.id);
      }
    }
    for (const m of outgoing) {
      if (m.status !== 'failed') failed.current.delete(m.clientMsgId);
      else if (!failed.current.has(m.clientMsgId)) {
        failed.current.add(m.clientMsgId);
        const session = sessions.find((s) => s.conversationId === m.conversationId);
        const name = session ? nameOf(session) : '';
        fresh.push(t('panel_not_delivered', name, m.error ?? ''));
      }
    }
    if (fresh.length > 0) said.value = fresh.join(' ');
  }, [sessions, outgoing]);
  return said.value;
}

/**
 * Set while the agent moves between session tabs with the arrow keys: the
 * keyboard stays on the tab list, and the composer does not take the focus
 * as it does when a tab is clicked.
 */
let movingByKeyboard = false;

export function SidePanel({ model, now }: { model: SidePanelModel; now: number }) {
  const sessions = model.sessions.value;
  const selected = model.selected.value;
  const announcement = usePanelAnnouncements(sessions, model.outgoing.value, (s) => customerName(s.conversation, model.identification(s.conversationId)));
  /** The tab list as the ARIA pattern has it: one tab stop, arrows move between tabs, Home and End. */
  const onTabKey = (e: preact.JSX.TargetedKeyboardEvent<HTMLElement>) => {
    const i = sessions.findIndex((s) => s === selected);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: sessions.length - 1 }[e.key];
    if (to === undefined || sessions.length === 0) return;
    e.preventDefault();
    const next = sessions[(to + sessions.length) % sessions.length]!;
    movingByKeyboard = true;
    model.select(next.conversationId);
    document.getElementById(`tab-${next.conversationId}`)?.focus();
  };
  if (sessions.length === 0) {
    return (
      <main class="panel empty-panel">
        <h1>{t('extName')}</h1>
        <SignInBar signIn={model.signIn.value} onSignIn={model.startSignIn} onSignOut={model.signOut} />
        <p>{t('panel_empty')}</p>
        <div class="sr-only" role="status" aria-live="polite">
          {announcement}
        </div>
      </main>
    );
  }
  return (
    <main class="panel">
      <div class="sr-only" role="status" aria-live="polite" data-live="messages">
        {announcement}
      </div>
      <nav class="tabs" role="tablist" aria-label={t('panel_sessions')} onKeyDown={onTabKey}>
        {sessions.map((s) => (
          <button
            key={s.conversationId}
            type="button"
            role="tab"
            id={`tab-${s.conversationId}`}
            aria-selected={s === selected}
            tabIndex={s === selected ? 0 : -1}
            aria-controls="session"
            class={`tab scenario-${s.conversation.scenario}${s.endedBy ? ' ended' : ''}`}
            onClick={() => model.select(s.conversationId)}
          >
            <ScenarioIcon scenario={s.conversation.scenario} />
            <span dir="auto">{customerName(s.conversation, model.identification(s.conversationId))}</span>
          </button>
        ))}
      </nav>
      {model.signIn.value?.status !== 'signed-in' && <SignInBar signIn={model.signIn.value} onSignIn={model.startSignIn} onSignOut={model.signOut} />}
      {model.offline.value && (
        <p class="offline" role="status">
          {t('panel_offline')}
        </p>
      )}
      {selected && <Session key={selected.conversationId} session={selected} model={model} now={now} />}
      {model.notice.value && (
        <p class="notice" role="alert">
          {model.notice.value}
        </p>
      )}
    </main>
  );
}

function Session({ session, model, now }: { session: SessionEntry; model: SidePanelModel; now: number }) {
  const outgoing = model.outgoing.value.filter((m) => m.conversationId === session.conversationId);
  return (
    <section id="session" role="tabpanel" aria-labelledby={`tab-${session.conversationId}`} class={`session scenario-${session.conversation.scenario}`}>
      <Summary session={session} now={now} model={model} />
      <Transcript session={session} outgoing={outgoing} model={model} />
      {session.endedBy ? (
        <footer class="ended-bar" role="status">
          <span>{t(session.endedBy === 'customer' ? 'ended_by_customer' : session.endedBy === 'agent' ? 'ended_by_agent' : 'ended_by_system')}</span>
          <WriteBackLine conversationId={session.conversationId} model={model} />
          <button type="button" class="secondary" onClick={() => void model.close(session.conversationId)}>
            {t('close_session')}
          </button>
        </footer>
      ) : (
        <Composer session={session} model={model} now={now} />
      )}
    </section>
  );
}

function Summary({ session, now, model }: { session: SessionEntry; now: number; model: SidePanelModel }) {
  const c = session.conversation;
  const ident = model.identification(c.id);
  const contact = ident?.status === 'matched' ? ident.contact : undefined;
  // The record URL comes through a CRM page: a link only to a web address.
  const record = webUrl(contact?.recordUrl);
  const rows: [MessageKey, string | preact.JSX.Element][] = [];
  if (c.customer.phone) rows.push(['field_phone', <a href={`tel:${c.customer.phone.replace(/[^\d+]/g, '')}`}>{c.customer.phone}</a>]);
  const email = contact?.email ?? c.customer.email;
  if (email) rows.push(['field_email', <a href={`mailto:${email}`}>{email}</a>]);
  const details = ident?.status === 'matched' ? ident.details : undefined;
  if (details?.jobTitle) rows.push(['field_job_title', details.jobTitle]);
  if (details?.account) {
    const url = webUrl(details.account.url);
    rows.push(['field_account', url ? <a href={url} target="_blank" rel="noopener noreferrer">{details.account.name}</a> : details.account.name]);
  }
  rows.push(['field_channel', t(`channel_${c.channel}`)]);
  if (c.queue) rows.push(['field_queue', c.queue]);
  rows.push(['field_waited', formatClock(session.acceptedAt + model.skewMs() - c.waitingSince)]);
  rows.push(['field_talking', session.endedBy ? '—' : formatClock(now - session.acceptedAt)]);
  if (c.context?.fromAgent) rows.push(['field_transferred_by', c.context.fromAgent]);
  if (c.context?.reason) rows.push(['field_reason', c.context.reason]);
  return (
    <header class="summary" aria-label={t('customer_summary')}>
      <div class="who">
        <span class="badge">
          <ScenarioIcon scenario={c.scenario} />
        </span>
        <div>
          <h1 class="name" dir="auto">
            {customerName(c, ident)}
          </h1>
          <p class="identified">
            {ident?.status === 'matched'
              ? t(MATCHED_BY[ident.contact.matchedBy ?? 'phone'], CRM_LABELS[ident.org.crm])
              : c.customer.crmId
                ? t('identified_crm')
                : t('identified_channel', t(`channel_${c.channel}`))}
            {record && (
              <>
                {' · '}
                <a href={record} target="_blank" rel="noopener noreferrer" class="record-link">
                  {t('ident_open_record')}
                </a>
              </>
            )}
          </p>
        </div>
        <span class="scenario">{scenarioTitle(c.scenario)}</span>
      </div>
      {ident?.status === 'pending' && <p class="ident-note">{t('ident_pending')}</p>}
      {ident && 'message' in ident && <p class="ident-note problem">{ident.message}</p>}
      {ident?.status === 'matched' && !ident.details && !ident.detailsError && <p class="ident-note">{t('details_loading')}</p>}
      {ident?.status === 'matched' && ident.detailsError && <p class="ident-note problem">{ident.detailsError}</p>}
      {ident?.status === 'ambiguous' && (
        <div class="choose" role="group" aria-label={ident.searched ? t('search_results', ident.searched) : t('ident_choose')}>
          <p>{ident.searched ? t('search_results', ident.searched) : t('ident_choose')}</p>
          <ul>
            {ident.candidates.map((candidate) => (
              <li key={candidate.id}>
                <span>
                  <strong>{candidate.name}</strong>
                  {(candidate.phone || candidate.email) && <span class="muted"> · {candidate.phone ?? candidate.email}</span>}
                </span>
                <button type="button" onClick={() => void model.pick(c.id, candidate.id)} aria-label={`${t('ident_this_one')}: ${candidate.name}`}>
                  {t('ident_this_one')}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      {/* Only where a CRM answered: with no CRM open, or one that failed, there is nothing to search. */}
      {ident && ident.status !== 'matched' && 'org' in ident && ident.org && <FindContact session={session} ident={ident} model={model} />}
      {c.comment && (
        <p class="comment" dir="auto">
          {c.comment}
        </p>
      )}
      <dl class="facts">
        {rows.map(([key, value]) => (
          <div key={key}>
            <dt>{t(key)}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {details && <CrmRecords details={details} />}
      {c.context?.botTranscript && c.context.botTranscript.length > 0 && (
        <details class="bot">
          <summary>{t('bot_transcript', c.context.botTranscript.length)}</summary>
          <ol>
            {c.context.botTranscript.map((m) => (
              <li key={m.id} class={`from-${m.from}`}>
                <strong>{m.author ?? t(`sender_${m.from}`)}:</strong> {m.text}
              </li>
            ))}
          </ol>
        </details>
      )}
    </header>
  );
}

/** The contact's recent cases and open activities, from the CRM. */
function CrmRecords({ details }: { details: NonNullable<Extract<Identification, { status: 'matched' }>['details']> }) {
  return (
    <div class="crm-records">
      <section aria-labelledby="cases-title">
        <h2 id="cases-title">{t('recent_cases')}</h2>
        {details.cases.length === 0 ? (
          <p class="muted">{t('no_cases')}</p>
        ) : (
          <ul class="cases">
            {details.cases.map((item) => {
              const url = webUrl(item.url);
              const title = `${item.number ? `${item.number} · ` : ''}${item.title}`;
              return (
                <li key={item.id}>
                  {url ? (
                    <a href={url} target="_blank" rel="noopener noreferrer" dir="auto">
                      {title}
                    </a>
                  ) : (
                    <span dir="auto">{title}</span>
                  )}
                  <span class="status">{item.status}</span>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      {details.activities.length > 0 && (
        <section aria-labelledby="activities-title">
          <h2 id="activities-title">{t('open_activities')}</h2>
          <ul class="activities">
            {details.activities.map((a) => (
              <li key={a.id}>
                <span dir="auto">{a.subject}</span>
                {(a.kind || a.due) && <span class="status">{[a.kind, a.due?.slice(0, 10)].filter(Boolean).join(' · ')}</span>}
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

/** No contact, several, or a failed lookup: the agent searches by name or creates the contact. */
function FindContact({ session, ident, model }: { session: SessionEntry; ident: Identification; model: SidePanelModel }) {
  const c = session.conversation;
  const query = useSignal('');
  const name = useSignal(c.customer.phone && c.customer.name === c.customer.phone ? '' : c.customer.name);
  const busy = useSignal(false);
  const label = 'org' in ident && ident.org ? CRM_LABELS[ident.org.crm] : 'CRM';
  const run = async (work: () => Promise<void>) => {
    busy.value = true;
    await work();
    busy.value = false;
  };
  return (
    <details class="find-contact" open={ident.status !== 'ambiguous' || !!ident.searched}>
      <summary>{t('find_contact')}</summary>
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => model.search(c.id, query.value));
        }}
      >
        <label>
          {t('search_label', label)}
          <input value={query.value} onInput={(e) => (query.value = e.currentTarget.value)} minLength={2} maxLength={100} required />
        </label>
        <button type="submit" class="secondary" disabled={busy.value}>
          {t('search')}
        </button>
      </form>
      <form
        class="create"
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => model.createContact(c.id, name.value));
        }}
      >
        <label>
          {t('create_contact_name')}
          <input value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} maxLength={160} required autoComplete="off" />
        </label>
        <button type="submit" class="secondary" disabled={busy.value}>
          {t('create_contact')}
        </button>
      </form>
    </details>
  );
}

/** How far the ended conversation got on its way to the contact's CRM timeline. */
function WriteBackLine({ conversationId, model }: { conversationId: string; model: SidePanelModel }) {
  const job = model.writeBack(conversationId);
  if (!job) return null;
  const crm = CRM_LABELS[job.crm];
  const text =
    job.status === 'done'
      ? t('write_back_done', crm)
      : job.status === 'failed'
        ? t('write_back_failed', crm, job.error ?? '')
        : job.error
          ? t('write_back_retrying', crm, job.error, new Date(job.nextAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }))
          : t('write_back_pending', crm);
  return <span class={`write-back ${job.status}${job.error ? ' problem' : ''}`}>{text}</span>;
}

/** One message; memoised so a new message does not re-render thousands of old ones. */
const MessageRow = memo(function MessageRow({ message, customer, model }: { message: Message; customer: string; model: SidePanelModel }) {
  const author = message.from === 'customer' ? customer : (message.author ?? t(`sender_${message.from}`));
  return (
    <li class={`msg from-${message.from}`} data-message-id={message.id}>
      <span class="author" dir="auto">
        {author}
      </span>
      <p class="text" dir="auto">
        {linkify(message.text).map((part, i) =>
          'href' in part ? (
            <a key={i} href={part.href} target="_blank" rel="noopener noreferrer">
              {part.text}
            </a>
          ) : (
            part.text
          ),
        )}
      </p>
      {message.media && message.media.length > 0 && (
        <ul class="media" aria-label={t('attachments')}>
          {message.media.map((m, i) => {
            // The feed only sends https media; checked again here, and never loaded until the agent clicks.
            const href = webUrl(m.url);
            const label = t('attachment_n', i + 1, m.contentType ?? t('attachment_file'));
            return (
              <li key={i}>
                {href ? (
                  <a href={href} target="_blank" rel="noopener noreferrer" title={m.url}>
                    {label}
                  </a>
                ) : (
                  <span title={m.url}>{label}</span>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <time dateTime={new Date(message.at).toISOString()}>{new Date(message.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</time>
      {message.delivery && <DeliveryLine message={message} model={model} />}
    </li>
  );
});

/** How far an SMS or Messenger reply got; a failure says the provider's reason, with Retry where it can help. */
function DeliveryLine({ message, model }: { message: Message; model: SidePanelModel }) {
  const d = message.delivery!;
  if (d.status !== 'failed') {
    return (
      <span class="delivery" data-delivery={d.status}>
        {t(`delivery_${d.status}`)}
      </span>
    );
  }
  const why = d.error ? (d.error.code && !d.error.text.includes(d.error.code) ? `${d.error.text} (${d.error.code})` : d.error.text) : '';
  return (
    <span class="delivery failed" data-delivery="failed">
      {t('delivery_failed')} <span class="why">{why}</span>{' '}
      {d.retryable && (
        <button type="button" class="link" onClick={() => void model.retryDelivery(message.conversationId, message.id)}>
          {t('retry')}
        </button>
      )}
    </span>
  );
}

function Transcript({ session, outgoing, model }: { session: SessionEntry; outgoing: OutgoingMessage[]; model: SidePanelModel }) {
  const list = useRef<HTMLOListElement>(null);
  const pinned = useSignal(true);
  const count = session.transcript.length + outgoing.length;
  // Follow new messages while the agent is at the bottom; leave them be when they scrolled up to read.
  useEffect(() => {
    const el = list.current;
    if (el && pinned.value) el.scrollTop = el.scrollHeight;
  }, [count]);
  return (
    <ol
      ref={list}
      class="transcript"
      aria-label={t('transcript')}
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.value = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
    >
      {session.transcript.map((m) => (
        <MessageRow key={m.id} message={m} customer={customerName(session.conversation, model.identification(session.conversationId))} model={model} />
      ))}
      {outgoing.map((m) => (
        <li key={m.clientMsgId} class={`msg from-agent pending ${m.status}`} data-client-msg-id={m.clientMsgId}>
          <p class="text" dir="auto">
            {m.text}
          </p>
          <span class="delivery">
            {m.status === 'sending' ? (
              t('sending')
            ) : (
              <>
                {t('send_failed')} {m.error && <span class="why">{m.error}</span>}{' '}
                <button type="button" class="link" onClick={() => model.retry(m.clientMsgId)}>
                  {t('retry')}
                </button>
              </>
            )}
          </span>
        </li>
      ))}
    </ol>
  );
}

function Composer({ session, model, now }: { session: SessionEntry; model: SidePanelModel; now: number }) {
  const id = session.conversationId;
  const input = useRef<HTMLTextAreaElement>(null);
  useSignalEffect(() => {
    // Switching sessions puts the cursor in that session's draft (not while arrowing through the tabs).
    if (model.selected.value?.conversationId !== id) return;
    if (movingByKeyboard) movingByKeyboard = false;
    else input.current?.focus({ preventScroll: true });
  });
  const draft = model.drafts.value[id] ?? '';
  // The channel's rules, said before sending: SMS segments, Messenger's 24-hour window, the length limit.
  const rule = composerRule(session.conversation.channel, draft, session.transcript, session.conversation.waitingSince, now + model.skewMs());
  const closed = rule.kind === 'messenger' && rule.closed;
  const blocked = closed || (rule.kind !== 'none' && rule.tooLong);
  const ruleId = `rule-${id}`;
  const send = () => {
    if (!blocked) model.send(id);
  };
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <textarea
        ref={input}
        rows={2}
        aria-label={t('message_label', customerName(session.conversation, model.identification(session.conversationId)))}
        aria-describedby={rule.kind === 'none' ? undefined : ruleId}
        placeholder={t('message_placeholder')}
        disabled={closed}
        value={draft}
        onInput={(e) => model.setDraft(id, e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          }
        }}
      />
      {rule.kind !== 'none' && (
        <p id={ruleId} class={`channel-rule${blocked ? ' blocked' : ''}`} data-rule={rule.kind}>
          {rule.kind === 'sms' && draft && t('sms_count', rule.count.segments, rule.count.encoding, draft.length)}
          {rule.kind === 'messenger' &&
            (rule.closed
              ? t('messenger_window_closed', formatTime(rule.windowEndsAt - model.skewMs()))
              : rule.closingSoon
                ? t('messenger_window_closes', formatTime(rule.windowEndsAt - model.skewMs()))
                : null)}
          {rule.tooLong && <span class="too-long"> {t('reply_too_long', rule.limit)}</span>}
        </p>
      )}
      <div class="composer-actions">
        <button type="button" class="secondary end" onClick={() => void model.end(id)}>
          {t('end_conversation')}
        </button>
        <button type="submit" class="primary" disabled={blocked}>
          {t('send')}
        </button>
      </div>
    </form>
  );
}

/** A feed time shown on the agent's clock, with the day when it is not today. */
function formatTime(at: number): string {
  const date = new Date(at);
  const sameDay = date.toDateString() === new Date().toDateString();
  return date.toLocaleString([], sameDay ? { hour: '2-digit', minute: '2-digit' } : { weekday: 'short', hour: '2-digit', minute: '2-digit' });
}
