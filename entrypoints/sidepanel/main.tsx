import { signal, useComputed } from '@preact/signals';
import { render } from 'preact';
import '../../components/theme.css';
import { SidePanel } from '../../components/SidePanel';
import { connectBackground } from '../../utils/background-client';
import { setCatalogue } from '../../utils/i18n';
import { createSidePanelModel } from '../../utils/sidepanel-model';
import { resolveTheme, systemPrefersDark } from '../../utils/theme';
import './sidepanel.css';

const client = connectBackground();
const model = createSidePanelModel(client);
const now = signal(Date.now());
setInterval(() => (now.value = Date.now()), 1000);
const systemDark = systemPrefersDark();

function App() {
  const theme = useComputed(() => resolveTheme(client.view.value?.theme, systemDark.value));
  document.documentElement.className = `theme-${theme.value}`;
  setCatalogue(client.view.value?.strings);
  return <SidePanel model={model} now={now.value} />;
}

render(<App />, document.getElementById('app')!);
