/**
 * Applies the effective settings (saved, under policy) to the worker: the
 * feed connection, the CRM sites the overlay goes into, the language and what
 * the views are told. Calls run one after another: a settings change, a
 * policy update and a permission change can arrive together, and two
 * overlapping runs would inject into the same new site's tabs twice.
 */
import type { EffectiveSettings, Settings } from '../../utils/settings';
import type { SiteStatus } from './site-scripts';
import type { ViewSettings } from './state-hub';

export interface SettingsApplierDeps {
  load(): Promise<EffectiveSettings>;
  syncSites(sites: readonly string[]): Promise<SiteStatus>;
  loadCatalogue(language: string): Promise<Record<string, string>>;
  /** The feed URL, token or sign-in provider changed (or this is the first run). */
  restartFeed(settings: Settings): void;
  /** What the views and the worker's own words follow. */
  applied(view: ViewSettings, settings: Settings): void;
}

export class SettingsApplier {
  #queue: Promise<void> = Promise.resolve();
  #current: Settings | undefined;

  constructor(private readonly deps: SettingsApplierDeps) {}

  /** The settings last applied; undefined before the first run. */
  get current(): Settings | undefined {
    return this.#current;
  }

  /** Reads the settings and applies what changed, after any run still going. */
  apply(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#run()).catch((error: unknown) => console.warn('[deskbell] could not apply the settings:', error));
    return this.#queue;
  }

  async #run(): Promise<void> {
    const { deps } = this;
    const next = (await deps.load()).settings;
    const prev = this.#current;
    this.#current = next;
    const feedKeys = ['feedUrl', 'feedToken', 'signInIssuer', 'signInClientId', 'signInScopes'] as const;
    if (!prev || feedKeys.some((k) => prev[k] !== next[k])) deps.restartFeed(next);
    const [sites, strings] = await Promise.all([
      deps.syncSites(next.crmSites).catch((error: unknown) => {
        console.warn('[deskbell] could not apply the CRM sites:', error);
        return { active: [], missingPermission: [...next.crmSites] };
      }),
      next.language === 'auto' ? undefined : deps.loadCatalogue(next.language).catch(() => undefined),
    ]);
    deps.applied({ theme: next.theme, templates: next.templates, sitesMissingPermission: sites.missingPermission, ...(strings ? { strings } : {}) }, next);
  }
}
