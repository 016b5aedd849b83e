/**
 * Everything an admin can set, as one schema: the options page validates
 * with it, an import is checked against it, and an enterprise policy is
 * parsed with it. Effective settings = defaults, then what was saved on the
 * options page, then policy — and a setting that comes from policy is locked.
 */
import * as v from 'valibot';
import { checkFeedUrls } from './feed-url';
import { isProviderUrl } from './oidc';
import { t } from './i18n';
import { SCENARIOS } from '../protocol/feed';
import { TemplateSchema } from './templates';

declare const __DESKBELL_DEFAULT_FEED_URL__: string;
declare const __DESKBELL_DEFAULT_FEED_TOKEN__: string;
declare const __DESKBELL_DEFAULT_CRM_SITES__: string[];

export const LANGUAGES = ['auto', 'en', 'nl'] as const;
export type Language = (typeof LANGUAGES)[number];
export const THEMES = ['dark', 'light', 'system'] as const;
/** What Accept does with the customer's CRM record: nothing, open it in the CRM tab, or in a new tab. */
export const SCREEN_POPS = ['none', 'org-tab', 'new-tab'] as const;
export type ScreenPop = (typeof SCREEN_POPS)[number];

/** A Chrome match pattern for http(s) pages: scheme://host/path, host may start with "*.". */
const MATCH_PATTERN = /^(https?|\*):\/\/(\*|(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:]+\])(:\d+)?\/.*$/i;

export function checkMatchPattern(input: string): string | null {
  if (!MATCH_PATTERN.test(input)) return t('val_site_pattern', input);
  if (/:\d+\//.test(input)) return t('val_site_port', input);
  return null;
}

/** One feed URL, or several nodes of one feed (spaces, commas or new lines between them), tried in order. */
const FeedUrl = v.pipe(
  v.string(),
  v.maxLength(4000, () => t('val_feed_url')),
  v.check((url) => url.trim() === '' || checkFeedUrls(url).ok, (issue) => {
    const check = checkFeedUrls(String(issue.input));
    return check.ok ? t('val_feed_url') : check.error;
  }),
);

const TemplateOverride = v.partial(TemplateSchema);

/** The identity provider agents sign in with: '' for none (static tokens), else https (http only on this machine). */
const SignInIssuer = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(500, () => t('val_sign_in_issuer')),
  v.check((url) => url === '' || isProviderUrl(url), () => t('val_sign_in_issuer')),
);

export const DEFAULT_SIGN_IN_SCOPES = 'openid profile email offline_access';

export const SettingsSchema = v.object({
  feedUrl: FeedUrl,
  feedToken: v.pipe(v.string(), v.maxLength(512, () => t('val_token_long'))),
  signInIssuer: SignInIssuer,
  signInClientId: v.pipe(v.string(), v.trim(), v.maxLength(200, () => t('val_client_id'))),
  /** Space-separated; must ask for `openid`. `offline_access` gets a refresh token from most providers (not Google). */
  signInScopes: v.pipe(v.string(), v.trim(), v.maxLength(500, () => t('val_scopes')), v.check((s) => s.split(/\s+/).includes('openid'), () => t('val_scopes'))),
  crmSites: v.pipe(
    v.array(v.pipe(v.string(), v.trim(), v.check((p) => checkMatchPattern(p) === null, (issue) => checkMatchPattern(String(issue.input)) ?? ''))),
    v.maxLength(100, () => t('val_sites_many')),
  ),
  theme: v.picklist(THEMES, () => t('val_theme')),
  language: v.picklist(LANGUAGES, () => t('val_language')),
  /** Where a phone number without a country code is taken to be (ISO 3166 code). */
  defaultRegion: v.pipe(v.string(), v.regex(/^[A-Z]{2}$/, () => t('val_region'))),
  screenPop: v.picklist(SCREEN_POPS, () => t('val_screen_pop')),
  templates: v.object(Object.fromEntries(SCENARIOS.map((s) => [s, v.optional(TemplateOverride)])) as Record<(typeof SCENARIOS)[number], v.OptionalSchema<typeof TemplateOverride, undefined>>),
});
export type Settings = v.InferOutput<typeof SettingsSchema>;
export type SettingKey = keyof Settings;
export const SETTING_KEYS = Object.keys(SettingsSchema.entries) as SettingKey[];

export const DEFAULT_SETTINGS: Settings = {
  feedUrl: typeof __DESKBELL_DEFAULT_FEED_URL__ === 'string' ? __DESKBELL_DEFAULT_FEED_URL__ : '',
  feedToken: typeof __DESKBELL_DEFAULT_FEED_TOKEN__ === 'string' ? __DESKBELL_DEFAULT_FEED_TOKEN__ : '',
  signInIssuer: '',
  signInClientId: '',
  signInScopes: DEFAULT_SIGN_IN_SCOPES,
  crmSites: typeof __DESKBELL_DEFAULT_CRM_SITES__ === 'object' ? __DESKBELL_DEFAULT_CRM_SITES__ : [],
  theme: 'system',
  language: 'auto',
  defaultRegion: 'NL',
  screenPop: 'none',
  templates: {},
};

export type FieldErrors = Partial<Record<string, string>>;

function issuesToErrors(issues: readonly v.BaseIssue<unknown>[]): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of issues) {
    const key = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    errors[key] ??= issue.message;
  }
  return errors;
}

/** Checks a whole settings object; every problem is reported against its field. */
export function validateSettings(input: unknown): { ok: true; settings: Settings } | { ok: false; errors: FieldErrors } {
  const result = v.safeParse(SettingsSchema, input);
  if (!result.success) return { ok: false, errors: issuesToErrors(result.issues) };
  const missing = signInProblem(result.output);
  return missing ? { ok: false, errors: { signInClientId: missing } } : { ok: true, settings: result.output };
}

/** A sign-in provider without the client id Deskbell has there cannot work; null when the pair is whole (or both empty). */
export function signInProblem(settings: Pick<Settings, 'signInIssuer' | 'signInClientId'>): string | null {
  return settings.signInIssuer && !settings.signInClientId ? t('val_client_id_needed') : null;
}

/** Policy names, as admins write them in a GPO, a profile or a JSON policy file. */
export const POLICY_NAMES: Record<SettingKey, string> = {
  feedUrl: 'FeedUrl',
  feedToken: 'FeedToken',
  signInIssuer: 'SignInIssuer',
  signInClientId: 'SignInClientId',
  signInScopes: 'SignInScopes',
  crmSites: 'CrmSites',
  theme: 'Theme',
  language: 'Language',
  defaultRegion: 'DefaultRegion',
  screenPop: 'ScreenPop',
  templates: 'Templates',
};

export interface PolicyResult {
  values: Partial<Settings>;
  /** Policy values that were not applied, and why (shown on the options page). */
  ignored: { policy: string; reason: string }[];
}

/** Reads `storage.managed`: each valid value applies, each invalid one is ignored with a reason. */
export function parsePolicy(managed: Record<string, unknown>): PolicyResult {
  const values: Partial<Settings> = {};
  const ignored: PolicyResult['ignored'] = [];
  for (const key of SETTING_KEYS) {
    const name = POLICY_NAMES[key];
    if (!(name in managed)) continue;
    const result = v.safeParse(SettingsSchema.entries[key], managed[name]);
    if (result.success) (values as Record<string, unknown>)[key] = result.output;
    else ignored.push({ policy: name, reason: result.issues[0].message });
  }
  const known = new Set(Object.values(POLICY_NAMES));
  for (const name of Object.keys(managed)) if (!known.has(name)) ignored.push({ policy: name, reason: t('val_no_policy') });
  return { values, ignored };
}

export interface EffectiveSettings {
  settings: Settings;
  locked: SettingKey[];
  ignored: PolicyResult['ignored'];
}

/** Saved settings (each field checked on its own, so one bad field does not lose the rest) under policy. */
export function effectiveSettings(saved: unknown, managed: Record<string, unknown>): EffectiveSettings {
  const base: Settings = { ...DEFAULT_SETTINGS };
  if (saved && typeof saved === 'object') {
    for (const key of SETTING_KEYS) {
      const value = (saved as Record<string, unknown>)[key];
      if (value === undefined) continue;
      const result = v.safeParse(SettingsSchema.entries[key], value);
      if (result.success) (base as Record<string, unknown>)[key] = result.output;
    }
  }
  const policy = parsePolicy(managed);
  return { settings: { ...base, ...policy.values }, locked: Object.keys(policy.values) as SettingKey[], ignored: policy.ignored };
}
