/**
 * The admin's options page: feed, CRM sites, appearance and language,
 * per-scenario templates, import / export and diagnostics. A setting forced
 * by policy is shown, disabled, with the reason.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { BUILT_IN_CRM_MATCHES } from '../utils/crm-sites';
import { t, type MessageKey } from '../utils/i18n';
import type { OptionsModel } from '../utils/options-model';
import { effectiveSeconds } from '../utils/presentation';
import { type Routing, type Scenario, SCENARIOS } from '../protocol/feed';
import type { SettingKey } from '../utils/settings';
import type { PageSnapshot } from '../utils/snapshot';
import type { Diagnostics } from '../utils/storage-items';
import { DEFAULT_TEMPLATES, DESKTOP_POLICIES, FIELDS, type Template, templateFor } from '../utils/templates';
import { scenarioTitle } from './scenario-title';

interface Props {
  model: OptionsModel;
  view: PageSnapshot | null;
  diagnostics: Diagnostics | null;
  /** What the admin registers at the sign-in provider: the redirect URI (`https://<extension id>.chromiumapp.org/`) and the origin its token endpoint must allow (CORS). */
  signInClient: { redirectUri: string; origin: string };
}

export function Options({ model, view, diagnostics, signInClient }: Props) {
  const d = model.draft.value;
  const state = model.state.value;
  return (
    <main class="options">
      <header class="page-head">
        <h1>{t('options_title')}</h1>
        <p>{t('options_intro')}</p>
      </header>
      {model.ignoredPolicy.value.length > 0 && (
        <div class="banner warn" role="alert">
          <strong>{t('policy_ignored')}</strong>
          <ul>
            {model.ignoredPolicy.value.map((i) => (
              <li key={i.policy}>
                <code>{i.policy}</code>: {i.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void model.save();
        }}
      >
        <Section title="section_feed">
          <Field model={model} name="feedUrl" label="feed_url" hint="feed_url_hint">
            {(props) => (
              <textarea
                {...props}
                class="urls"
                rows={Math.min(4, Math.max(1, d.feedUrl.split('\n').length))}
                spellcheck={false}
                autoCapitalize="off"
                value={d.feedUrl}
                placeholder="wss://feed.example.com/feed"
                onInput={(e) => model.set('feedUrl', e.currentTarget.value)}
              />
            )}
          </Field>
          <Field model={model} name="feedToken" label="feed_token" hint={d.signInIssuer ? 'feed_token_unused_hint' : 'feed_token_hint'}>
            {(props) => <input {...props} type="password" autoComplete="off" value={d.feedToken} onInput={(e) => model.set('feedToken', e.currentTarget.value)} />}
          </Field>
          <Field model={model} name="signInIssuer" label="sign_in_issuer" hint="sign_in_issuer_hint">
            {(props) => <input {...props} type="url" value={d.signInIssuer} placeholder="https://login.microsoftonline.com/<tenant>/v2.0" onInput={(e) => model.set('signInIssuer', e.currentTarget.value)} />}
          </Field>
          {(d.signInIssuer || model.isLocked('signInIssuer')) && (
            <>
              <Field model={model} name="signInClientId" label="sign_in_client_id" hint="sign_in_client_id_hint">
                {(props) => <input {...props} value={d.signInClientId} autoComplete="off" onInput={(e) => model.set('signInClientId', e.currentTarget.value)} />}
              </Field>
              <Field model={model} name="signInScopes" label="sign_in_scopes" hint="sign_in_scopes_hint">
                {(props) => <input {...props} value={d.signInScopes} onInput={(e) => model.set('signInScopes', e.currentTarget.value)} />}
              </Field>
              <div class="field" data-setting="redirectUri">
                <label for="f-redirect-uri">{t('sign_in_redirect')}</label>
                <input id="f-redirect-uri" readOnly value={signInClient.redirectUri} onFocus={(e) => e.currentTarget.select()} />
              </div>
              <div class="field" data-setting="signInOrigin">
                <label for="f-sign-in-origin">{t('sign_in_origin')}</label>
                <input id="f-sign-in-origin" readOnly value={signInClient.origin} aria-describedby="f-sign-in-origin-note" onFocus={(e) => e.currentTarget.select()} />
                <p id="f-sign-in-origin-note" class="note">
                  {t('sign_in_origin_hint')}
                </p>
              </div>
            </>
          )}
        </Section>

        <SitesSection model={model} missing={view?.sitesMissingPermission ?? []} />

        <Section title="section_appearance">
          <Field model={model} name="theme" label="theme">
            {(props) => (
              <select {...props} value={d.theme} onChange={(e) => model.set('theme', e.currentTarget.value as typeof d.theme)}>
                <option value="system">{t('theme_system')}</option>
                <option value="dark">{t('theme_dark')}</option>
                <option value="light">{t('theme_light')}</option>
              </select>
            )}
          </Field>
          <Field model={model} name="language" label="language">
            {(props) => (
              <select {...props} value={d.language} onChange={(e) => model.set('language', e.currentTarget.value as typeof d.language)}>
                <option value="auto">{t('language_auto')}</option>
                <option value="en">English</option>
                <option value="nl">Nederlands</option>
              </select>
            )}
          </Field>
          <Field model={model} name="defaultRegion" label="default_region" hint="default_region_hint">
            {(props) => <input {...props} value={d.defaultRegion} maxLength={2} size={4} onInput={(e) => model.set('defaultRegion', e.currentTarget.value.toUpperCase())} />}
          </Field>
          <Field model={model} name="screenPop" label="screen_pop" hint="screen_pop_hint">
            {(props) => (
              <select {...props} value={d.screenPop} onChange={(e) => model.set('screenPop', e.currentTarget.value as typeof d.screenPop)}>
                <option value="none">{t('screen_pop_none')}</option>
                <option value="org-tab">{t('screen_pop_org_tab')}</option>
                <option value="new-tab">{t('screen_pop_new_tab')}</option>
              </select>
            )}
          </Field>
        </Section>

        <TemplatesSection model={model} routing={view?.routing} />

        <div class="save-bar">
          <button type="submit" class="primary" disabled={!model.dirty.value}>
            {t('save')}
          </button>
          <span class={`save-state ${state.kind}`} role="status">
            {state.kind === 'saved' && t('saved')}
            {state.kind === 'invalid' && t('not_saved_invalid', state.count)}
            {state.kind === 'failed' && t('not_saved_failed', state.message)}
          </span>
        </div>
      </form>

      <ImportExport model={model} />
      <DiagnosticsSection view={view} diagnostics={diagnostics} />
    </main>
  );
}

/** The mark on a setting that policy decides; an SVG, so it shows without an emoji font. */
function LockNote() {
  return (
    <span class="lock">
      <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.6">
        <rect x="3" y="7" width="10" height="7" rx="1.5" />
        <path d="M5.5 7V5a2.5 2.5 0 0 1 5 0v2" />
      </svg>{' '}
      {t('locked_by_policy')}
    </span>
  );
}

function Section({ title, children }: { title: MessageKey; children: ComponentChildren }) {
  const id = `h-${title}`;
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{t(title)}</h2>
      {children}
    </section>
  );
}

interface FieldProps {
  id: string;
  disabled: boolean;
  'aria-invalid': boolean;
  'aria-describedby': string;
}

function Field({ model, name, label, hint, children }: { model: OptionsModel; name: SettingKey; label: MessageKey; hint?: MessageKey; children: (props: FieldProps) => ComponentChildren }) {
  const error = model.errors.value[name];
  const locked = model.isLocked(name);
  const id = `f-${name}`;
  return (
    <div class={`field${locked ? ' locked' : ''}`} data-setting={name}>
      <label for={id}>{t(label)}</label>
      {children({ id, disabled: locked, 'aria-invalid': !!error, 'aria-describedby': `${id}-note` })}
      <p id={`${id}-note`} class="note">
        {locked && <LockNote />}
        {error && <span class="error">{error}</span>}
        {!locked && !error && hint && t(hint)}
      </p>
    </div>
  );
}

function SitesSection({ model, missing }: { model: OptionsModel; missing: string[] }) {
  const input = useRef<HTMLInputElement>(null);
  const locked = model.isLocked('crmSites');
  const sites = model.draft.value.crmSites;
  return (
    <Section title="section_sites">
      <p class="hint">{t('sites_intro')}</p>
      <ul class="sites" aria-label={t('section_sites')}>
        {BUILT_IN_CRM_MATCHES.map((s) => (
          <li key={s}>
            <code>{s}</code> <span class="tag">{t('site_built_in')}</span>
          </li>
        ))}
        {sites.map((s) => (
          <li key={s} data-site={s}>
            <code>{s}</code>
            {missing.includes(s) && (
              <>
                <span class="tag warn">{t('site_no_access')}</span>
                <button type="button" class="link" onClick={() => void model.grantSite(s)} aria-label={t('site_grant_label', s)}>
                  {t('site_grant')}
                </button>
              </>
            )}
            {!locked && (
              <button type="button" class="link" onClick={() => void model.removeSite(s)} aria-label={t('site_remove_label', s)}>
                {t('remove')}
              </button>
            )}
          </li>
        ))}
      </ul>
      {locked ? (
        <p class="note">
          <LockNote />
        </p>
      ) : (
        <div class="add-site">
          <label for="new-site">{t('site_add_label')}</label>
          <input id="new-site" ref={input} placeholder="https://crm.example.com/*" aria-describedby="site-error" />
          <button
            type="button"
            onClick={() => {
              // The permission request must run inside this click.
              void model.addSite(input.current?.value ?? '').then((ok) => {
                if (ok && input.current) input.current.value = '';
              });
            }}
          >
            {t('site_add')}
          </button>
          <p id="site-error" class="error" role="alert">
            {model.siteError.value}
          </p>
        </div>
      )}
    </Section>
  );
}

/**
 * Reject reasons, one a line. The raw text is kept while the admin types, so
 * an Enter (an empty line, for now) is not lost when the list is parsed.
 */
function ReasonsField({ id, reasons, onChange }: { id: string; reasons: string[]; onChange(reasons: string[]): void }) {
  const [raw, setRaw] = useState(reasons.join('\n'));
  const parse = (text: string) => text.split('\n').map((r) => r.trim()).filter(Boolean);
  // Changed elsewhere (an import, a reset): show that instead.
  useEffect(() => {
    if (parse(raw).join('\n') !== reasons.join('\n')) setRaw(reasons.join('\n'));
  }, [reasons.join('\n')]);
  return (
    <textarea
      id={id}
      rows={3}
      value={raw}
      onInput={(e) => {
        setRaw(e.currentTarget.value);
        onChange(parse(e.currentTarget.value));
      }}
    />
  );
}

/** How the feed hands this scenario out, and how long its card really stays up: the feed decides the first, not the template. */
function RoutingNote({ scenario, tpl, routing }: { scenario: Scenario; tpl: Template; routing: Routing | undefined }) {
  const route = routing?.[scenario];
  if (!routing) return <p class="hint routing" data-routing="unknown">{t('routing_unknown', tpl.timeoutSec)}</p>;
  const mode = route?.mode ?? 'offer';
  const seconds = effectiveSeconds(tpl, route);
  return (
    <p class="hint routing" data-routing={mode}>
      {mode === 'offer' ? t('routing_offer', seconds, route?.offerTimeoutSec ?? seconds) : t('routing_assign', seconds)}
    </p>
  );
}

function TemplatesSection({ model, routing }: { model: OptionsModel; routing: Routing | undefined }) {
  const locked = model.isLocked('templates');
  const overrides = model.draft.value.templates;
  const update = (scenario: Scenario, change: Partial<Template>) =>
    model.set('templates', { ...overrides, [scenario]: { ...templateFor(scenario, overrides), ...overrides[scenario], ...change } });
  return (
    <Section title="section_templates">
      <p class="hint">{t('templates_intro')}</p>
      {locked && (
        <p class="note">
          <LockNote />
        </p>
      )}
      {SCENARIOS.map((scenario) => {
        const tpl = { ...DEFAULT_TEMPLATES[scenario], ...overrides[scenario] };
        const err = (field: string) => model.errors.value[`templates.${scenario}.${field}`];
        const id = (field: string) => `tpl-${scenario}-${field}`;
        return (
          <details key={scenario} class="template" data-scenario={scenario}>
            <summary>
              {scenarioTitle(scenario)}{' '}
              {routing && <span class="tag">{t((routing[scenario]?.mode ?? 'offer') === 'offer' ? 'kind_alert' : 'kind_toast')}</span>}
            </summary>
            <RoutingNote scenario={scenario} tpl={tpl} routing={routing} />
            <fieldset disabled={locked}>
              <div class="grid">
                <label for={id('timeoutSec')}>{t('tpl_timeout')}</label>
                <span>
                  <input id={id('timeoutSec')} type="number" min={3} max={600} value={tpl.timeoutSec} onInput={(e) => update(scenario, { timeoutSec: e.currentTarget.valueAsNumber })} />
                  {err('timeoutSec') && <span class="error">{err('timeoutSec')}</span>}
                </span>
                <label for={id('acceptLabel')}>{t('tpl_accept_label')}</label>
                <input id={id('acceptLabel')} value={tpl.acceptLabel} placeholder={t('accept')} maxLength={30} onInput={(e) => update(scenario, { acceptLabel: e.currentTarget.value })} />
                <label for={id('rejectLabel')}>{t('tpl_reject_label')}</label>
                <input id={id('rejectLabel')} value={tpl.rejectLabel} placeholder={t('reject')} maxLength={30} onInput={(e) => update(scenario, { rejectLabel: e.currentTarget.value })} />
                <label for={id('desktop')}>{t('tpl_desktop')}</label>
                <select id={id('desktop')} value={tpl.desktop} onChange={(e) => update(scenario, { desktop: e.currentTarget.value as Template['desktop'] })}>
                  {DESKTOP_POLICIES.map((p) => (
                    <option key={p} value={p}>
                      {t(`desktop_${p.replace('-', '_')}` as MessageKey)}
                    </option>
                  ))}
                </select>
                <label for={id('reasons')}>{t('tpl_reject_reasons')}</label>
                <ReasonsField id={id('reasons')} reasons={tpl.rejectReasons} onChange={(rejectReasons) => update(scenario, { rejectReasons })} />
              </div>
              <div class="checks">
                {(['showCountdown', 'rejectAllowed', 'autoAccept', 'sound'] as const).map((flag) => (
                  <label key={flag}>
                    <input type="checkbox" checked={tpl[flag]} onChange={(e) => update(scenario, { [flag]: e.currentTarget.checked })} /> {t(`tpl_${flag}`)}
                  </label>
                ))}
              </div>
              <fieldset class="fields">
                <legend>{t('tpl_fields')}</legend>
                <div class="field-list">
                {FIELDS.map((f) => (
                  <label key={f}>
                    <input
                      type="checkbox"
                      checked={tpl.fields.includes(f)}
                      onChange={(e) => update(scenario, { fields: e.currentTarget.checked ? [...tpl.fields, f] : tpl.fields.filter((x) => x !== f) })}
                    />{' '}
                    {t(`field_name_${f}`)}
                  </label>
                ))}
                </div>
              </fieldset>
            </fieldset>
          </details>
        );
      })}
    </Section>
  );
}

function ImportExport({ model }: { model: OptionsModel }) {
  const [href, setHref] = useState<string | null>(null);
  return (
    <Section title="section_import_export">
      <p class="hint">{t('import_export_intro')}</p>
      <div class="row">
        <button type="button" onClick={() => setHref(URL.createObjectURL(new Blob([model.exportJson()], { type: 'application/json' })))}>
          {t('export')}
        </button>
        {href && (
          <a href={href} download="deskbell-settings.json">
            deskbell-settings.json
          </a>
        )}
        <label class="file">
          {t('import')}
          <input
            type="file"
            accept="application/json,.json"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              if (file) void file.text().then((text) => model.importJson(text));
              e.currentTarget.value = '';
            }}
          />
        </label>
      </div>
    </Section>
  );
}

function DiagnosticsSection({ view, diagnostics }: { view: PageSnapshot | null; diagnostics: Diagnostics | null }) {
  const c = view?.connection ?? diagnostics?.connection;
  const status = c?.status ?? 'idle';
  return (
    <Section title="section_diagnostics">
      <dl class="diag">
        <dt>{t('diag_connection')}</dt>
        <dd data-diag="connection" class={`status-${status}`}>
          {t(`connection_${status}`)}
          {c?.agentName ? ` · ${c.agentName}` : ''}
        </dd>
        {c?.node && (
          <>
            <dt>{t('diag_node')}</dt>
            <dd data-diag="node">{c.node}</dd>
          </>
        )}
        {view?.signIn && (
          <>
            <dt>{t('diag_sign_in')}</dt>
            <dd data-diag="sign-in">
              {view.signIn.status === 'signed-in'
                ? t('diag_sign_in_until', view.signIn.user?.email ?? view.signIn.user?.name ?? '', view.signIn.expiresAt ? new Date(view.signIn.expiresAt).toLocaleTimeString() : '—')
                : t(view.signIn.status === 'signing-in' ? 'sign_in_busy' : 'sign_in_needed')}
              {view.signIn.error ? ` (${view.signIn.error})` : ''}
            </dd>
          </>
        )}
        <dt>{t('diag_last_error')}</dt>
        <dd data-diag="last-error">{c?.lastError ?? diagnostics?.lastFeedError ?? '—'}</dd>
        <dt>{t('diag_invalid_frames')}</dt>
        <dd data-diag="invalid-frames">
          {diagnostics?.invalidFrames ?? 0}
          {diagnostics?.lastInvalidFrame ? ` (${diagnostics.lastInvalidFrame})` : ''}
        </dd>
        <dt>{t('diag_duplicates')}</dt>
        <dd>{diagnostics?.duplicates ?? 0}</dd>
        <dt>{t('diag_fresh_starts')}</dt>
        <dd data-diag="fresh-starts">
          {diagnostics?.freshStarts ?? 0}
          {diagnostics?.lastFreshStart ? ` (${diagnostics.lastFreshStart})` : ''}
        </dd>
        <dt>{t('diag_storage')}</dt>
        <dd data-diag="storage">{diagnostics?.lastStorageError ?? '—'}</dd>
        <dt>{t('diag_pending')}</dt>
        <dd>{view?.pendingOffers ?? 0}</dd>
      </dl>
    </Section>
  );
}
