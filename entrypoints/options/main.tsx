import { signal, useSignalEffect } from '@preact/signals';
import { render } from 'preact';
import { browser } from 'wxt/browser';
import '../../components/theme.css';
import { Options } from '../../components/Options';
import { connectBackground } from '../../utils/background-client';
import { setCatalogue } from '../../utils/i18n';
import { createOptionsModel, type OptionsClient } from '../../utils/options-model';
import { loadEffectiveSettings, refreshPolicy, watchEffectiveSettings } from '../../utils/settings-store';
import { type Diagnostics, diagnostics, savedSettings } from '../../utils/storage-items';
import { LOCAL_HOSTS } from '../../utils/crm-sites';
import { resolveTheme, systemPrefersDark } from '../../utils/theme';
import './options.css';

const client: OptionsClient = {
  load: async () => {
    const [saved, effective] = await Promise.all([savedSettings.getValue(), loadEffectiveSettings()]);
    return { saved, effective };
  },
  save: (settings) => savedSettings.setValue(settings),
  requestSite: (pattern) => browser.permissions.request({ origins: [pattern] }),
  releaseSite: async (pattern) => {
    // Hosts the manifest declares cannot be given back; the rest can.
    if (!LOCAL_HOSTS.includes(pattern)) await browser.permissions.remove({ origins: [pattern] }).catch(() => false);
  },
};

const background = connectBackground();
const model = createOptionsModel(client);
const diag = signal<Diagnostics | null>(null);
void diagnostics.getValue().then((d) => (diag.value = d));
diagnostics.watch((d) => (diag.value = d));
void model.reload();
void refreshPolicy();
// A policy that arrives (or changes) while the page is open shows at once.
watchEffectiveSettings(() => void model.reload());

const systemDark = systemPrefersDark();
const signInClient = { redirectUri: browser.identity.getRedirectURL(), origin: new URL(browser.runtime.getURL('/')).origin };

function App() {
  const view = background.view.value;
  setCatalogue(view?.strings);
  // Follows the OS when it switches between light and dark, not only the next time something re-renders.
  useSignalEffect(() => {
    document.documentElement.className = `theme-${resolveTheme(background.view.value?.theme, systemDark.value)}`;
  });
  return <Options model={model} view={view} diagnostics={diag.value} signInClient={signInClient} />;
}

render(<App />, document.getElementById('app')!);
