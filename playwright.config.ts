import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests drive Debian's Chromium with the built extension loaded
 * (see tests/e2e/fixtures.ts). One worker: each test starts its own browser,
 * and CI has two cores.
 */
export default defineConfig({
  testDir: 'tests/e2e',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [['list']] : [['list']],
  use: { trace: 'retain-on-failure' },
  outputDir: 'test-results',
});
