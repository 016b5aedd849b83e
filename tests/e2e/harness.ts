/**
 * What the e2e suite and the browser benchmarks share: where the build and
 * the browser are, the flags Chromium needs here, the test agent.
 * Free of the Playwright test runner, so plain scripts can import it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export const EXTENSION_PATH = path.resolve('.output/chrome-mv3');
/**
 * The same extension built with its overlay's shadow root open
 * (`npm run build:audit`), only so the accessibility audit can reach inside.
 * Production builds mount it closed.
 */
export const AUDIT_EXTENSION_PATH = path.resolve('.output-audit/chrome-mv3');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const AGENT = { id: 'agent-1', name: 'Alex Morgan', token: 'deskbell-e2e-agent-token', capacity: 100 };
export const API_KEY = 'deskbell-e2e-api-key-0001';
/**
 * Where the README's screenshots are written: the test output folder, so a
 * test run leaves the tree as it found it. `npm run screenshots` points this
 * at docs/screenshots to refresh them on purpose.
 */
export function readmeShot(name: string): string {
  const dir = process.env.DESKBELL_SCREENSHOTS ?? 'test-results/screenshots';
  mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

/** The fake CRM's origin as a CRM site pattern (declared host permission: no prompt). */
export const CRM_SITE = 'http://127.0.0.1/*';

/** Flags Chromium needs as root in a sandboxless container with no network, loading the extension at `extensionPath`. */
export const chromiumArgs = (extensionPath: string) => [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Lets a test reload the extension as an update would (CDP Extensions.loadUnpacked).
  '--enable-unsafe-extension-debugging',
  `--disable-extensions-except=${extensionPath}`,
  `--load-extension=${extensionPath}`,
];
export const CHROMIUM_ARGS = chromiumArgs(EXTENSION_PATH);


/** Chrome's id for an unpacked extension: SHA-256 of its path, first 16 bytes, hex digits 0-f written as a-p. */
export function unpackedExtensionId(dir: string): string {
  return createHash('sha256')
    .update(dir)
    .digest('hex')
    .slice(0, 32)
    .replace(/[0-9a-f]/g, (c) => String.fromCharCode(97 + parseInt(c, 16)));
}

/** Where Chromium on Linux reads mandatory policy: a test writes its own file there and removes it after. */
export const POLICY_DIR = '/etc/chromium/policies/managed';
