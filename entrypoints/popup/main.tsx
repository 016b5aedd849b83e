import { signal } from '@preact/signals';
import { render } from 'preact';
import { browser } from 'wxt/browser';
import { Popup } from '../../components/Popup';
import { connectBackground } from '../../utils/background-client';
import { setCatalogue } from '../../utils/i18n';
import type { Presence } from '../../protocol/feed';
import { agentPresence } from '../../utils/storage-items';
import './popup.css';

const client = connectBackground();
const presence = signal<Presence>('available');
const now = signal(Date.now());
void agentPresence.getValue().then((p) => (presence.value = p));
agentPresence.watch((p) => (presence.value = p));
setInterval(() => (now.value = Date.now()), 1000);

function App() {
  setCatalogue(client.view.value?.strings);
  return (
    <Popup
      client={client}
      presence={presence.value}
      now={now.value}
      onPresence={(p) => void agentPresence.setValue(p)}
      onSettings={() => void browser.runtime.openOptionsPage()}
    />
  );
}

render(<App />, document.getElementById('app')!);
