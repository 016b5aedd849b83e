/**
 * The theme a page or the overlay shows: the admin's choice, or the
 * operating system's when the choice is `system`, followed live as the OS
 * switches between light and dark.
 */
import { type ReadonlySignal, signal } from '@preact/signals';
import type { ThemeSetting } from './storage-items';

let prefersDark: ReadonlySignal<boolean> | undefined;

/** A signal of the OS's colour scheme, one listener per page however many ask. */
export function systemPrefersDark(): ReadonlySignal<boolean> {
  if (prefersDark) return prefersDark;
  const query = window.matchMedia('(prefers-color-scheme: dark)');
  const dark = signal(query.matches);
  query.addEventListener('change', (e) => (dark.value = e.matches));
  return (prefersDark = dark);
}

export function resolveTheme(setting: ThemeSetting | undefined, systemDark: boolean): 'dark' | 'light' {
  const chosen = setting ?? 'system';
  return chosen === 'system' ? (systemDark ? 'dark' : 'light') : chosen;
}
