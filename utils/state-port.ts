/**
 * For extension pages (popup, side panel, options): the worker's pushed view
 * and connection diagnostics as signals, kept current over a runtime port
 * that reconnects when the worker restarts.
 */
import { signal } from '@preact/signals';
import { browser } from 'wxt/browser';
import { STATE_PORT } from './messages';
import type { StateSnapshot } from './snapshot';
import { type Diagnostics, diagnostics } from './storage-items';

export interface PageState {
  snapshot: ReturnType<typeof signal<StateSnapshot | null>>;
  diagnostics: ReturnType<typeof signal<Diagnostics | null>>;
}

export function connectStatePort(): PageState {
  const snapshot = signal<StateSnapshot | null>(null);
  const diag = signal<Diagnostics | null>(null);
  const connect = () => {
    const port = browser.runtime.connect({ name: STATE_PORT });
    port.onMessage.addListener((message) => (snapshot.value = message as StateSnapshot));
    port.onDisconnect.addListener(() => setTimeout(connect, 300));
  };
  connect();
  void diagnostics.getValue().then((d) => (diag.value = d));
  diagnostics.watch((d) => (diag.value = d));
  return { snapshot, diagnostics: diag };
}
