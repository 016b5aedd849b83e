/**
 * The options page's state: a draft of the settings, the errors found in it,
 * and which settings policy has locked. Saving checks the whole draft and
 * writes it in one go, or writes nothing and shows every problem.
 */
import { computed, signal } from '@preact/signals';
import { t } from './i18n';
import { checkMatchPattern, DEFAULT_SETTINGS, type EffectiveSettings, type FieldErrors, type SettingKey, type Settings, validateSettings } from './settings';

export interface OptionsClient {
  load(): Promise<{ saved: Partial<Settings>; effective: EffectiveSettings }>;
  save(settings: Partial<Settings>): Promise<void>;
  /** Asks Chrome for access to a site; must be called straight from the click. */
  requestSite(pattern: string): Promise<boolean>;
  releaseSite(pattern: string): Promise<void>;
}

export type SaveState = { kind: 'idle' } | { kind: 'saved' } | { kind: 'invalid'; count: number } | { kind: 'failed'; message: string };

export function createOptionsModel(client: OptionsClient) {
  const draft = signal<Settings>(DEFAULT_SETTINGS);
  const saved = signal<Partial<Settings>>({});
  const locked = signal<readonly SettingKey[]>([]);
  const ignoredPolicy = signal<EffectiveSettings['ignored']>([]);
  const errors = signal<FieldErrors>({});
  const state = signal<SaveState>({ kind: 'idle' });
  const siteError = signal<string | null>(null);
  const dirty = computed(() => JSON.stringify(draft.value) !== JSON.stringify({ ...DEFAULT_SETTINGS, ...saved.value, ...lockedValues() }));

  let effective: EffectiveSettings | undefined;
  const lockedValues = () => Object.fromEntries((effective?.locked ?? []).map((k) => [k, effective!.settings[k]]));

  async function reload(): Promise<void> {
    const loaded = await client.load();
    effective = loaded.effective;
    saved.value = loaded.saved;
    locked.value = loaded.effective.locked;
    ignoredPolicy.value = loaded.effective.ignored;
    draft.value = loaded.effective.settings;
  }

  /** Asks Chrome for access to a site (call it straight from the click) and says so when refused. */
  function askAccess(site: string): Promise<boolean> {
    return client.requestSite(site).then((ok) => {
      siteError.value = ok ? null : t('site_denied', site);
      return ok;
    });
  }

  /** Writes the draft without the locked settings: policy decides those, and keeps deciding. */
  async function persist(next: Settings): Promise<boolean> {
    const result = validateSettings(next);
    if (!result.ok) {
      errors.value = result.errors;
      state.value = { kind: 'invalid', count: Object.keys(result.errors).length };
      return false;
    }
    const toSave: Partial<Settings> = { ...result.settings };
    for (const key of locked.value) {
      if (key in saved.value) (toSave as Record<string, unknown>)[key] = saved.value[key];
      else delete toSave[key];
    }
    try {
      await client.save(toSave);
    } catch (error) {
      state.value = { kind: 'failed', message: (error as Error).message };
      return false;
    }
    saved.value = toSave;
    errors.value = {};
    state.value = { kind: 'saved' };
    return true;
  }

  return {
    draft,
    locked,
    ignoredPolicy,
    errors,
    state,
    siteError,
    dirty,
    reload,
    isLocked: (key: SettingKey) => locked.value.includes(key),
    set<K extends SettingKey>(key: K, value: Settings[K]): void {
      draft.value = { ...draft.value, [key]: value };
      state.value = { kind: 'idle' };
    },
    save: () => persist(draft.value),
    /**
     * Adds a CRM site: checks the pattern, asks Chrome for access (the call
     * happens before any await, inside the admin's click), then saves.
     */
    addSite(pattern: string): Promise<boolean> {
      const site = pattern.trim();
      const problem = checkMatchPattern(site);
      if (problem) {
        siteError.value = problem;
        return Promise.resolve(false);
      }
      if (draft.value.crmSites.includes(site)) {
        siteError.value = `${site} is already on the list.`;
        return Promise.resolve(false);
      }
      return askAccess(site).then(async (ok) => {
        if (!ok) return false;
        return persist({ ...draft.value, crmSites: [...draft.value.crmSites, site] }).then((done) => {
          if (done) draft.value = { ...draft.value, crmSites: [...draft.value.crmSites, site] };
          return done;
        });
      });
    },
    /** Asks Chrome again for a site on the list that has no access (revoked, or set by policy); straight from the click. */
    grantSite: (site: string): Promise<boolean> => askAccess(site),
    async removeSite(site: string): Promise<void> {
      const crmSites = draft.value.crmSites.filter((s) => s !== site);
      if (await persist({ ...draft.value, crmSites })) {
        draft.value = { ...draft.value, crmSites };
        await client.releaseSite(site);
      }
    },
    /** Settings as a JSON file; the agent token is left out (it is personal and secret). */
    exportJson(): string {
      const { feedToken: _secret, ...rest } = draft.value;
      return JSON.stringify({ deskbell: 1, settings: rest }, null, 2);
    },
    /** Takes a file from exportJson (or written by hand): all of it is valid and saved, or none of it is. */
    async importJson(text: string): Promise<boolean> {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        state.value = { kind: 'failed', message: t('import_bad_json') };
        return false;
      }
      const body = json && typeof json === 'object' && 'settings' in json ? (json as { settings: unknown }).settings : json;
      if (!body || typeof body !== 'object') {
        state.value = { kind: 'failed', message: t('import_empty') };
        return false;
      }
      const next = { ...draft.value, ...(body as Partial<Settings>) } as Settings;
      if (!(await persist(next))) return false;
      draft.value = next;
      return true;
    },
  };
}

export type OptionsModel = ReturnType<typeof createOptionsModel>;
