import { signal, useComputed } from '@preact/signals';
import { render } from 'preact';
import '../../components/theme.css';
import { SidePanel } from '../../components/SidePanel';
import { connectBackground } from '../../utils/background-client';
import { setCatalogue } from '../../utils/i18n';
import { createSidePanelModel } from '../../utils/sidepanel-model';
import './sidepanel.css';

const client = connectBackground();
const model = createSidePanelModel(client);
const now = signal(Date.now());
setInterval(() => (now.value = Date.now()), 1000);
const systemDark = window.matchMedia('(prefers-color-scheme: dark)');
const prefersDark = signal(systemDark.matches);
systemDark.addEventListener('change', (e) => (prefersDark.value = e.matches));

function App() {
  const theme = useComputed(() => {
    const setting = client.view.value?.theme ?? 'system';
    return setting === 'system' ? (prefersDark.value ? 'dark' : 'light') : setting;
  });
  document.documentElement.className = `theme-${theme.value}`;
  setCatalogue(client.view.value?.strings);
  return <SidePanel model={model} now={now.value} />;
}

render(<App />, document.getElementById('app')!);
