import { defineConfig } from 'vitest/config';
import { WxtVitest } from 'wxt/testing/vitest-plugin';

export default defineConfig({
  plugins: [WxtVitest()],
  test: {
    environment: 'node',
    restoreMocks: true,
    setupFiles: ['vitest.setup.ts'],
    // Most server tests wait on timers, sockets and the database, not the CPU: three files at a time on two cores.
    maxWorkers: 3,
    projects: [
      { extends: true, test: { name: 'unit', include: ['{protocol,utils,components,entrypoints,server}/**/*.test.{ts,tsx}'], exclude: ['server/cluster.test.ts'] } },
      // The feed server's suite once more, on a real PostgreSQL (a temporary cluster for the run), with the tests of several nodes on it.
      { extends: true, test: { name: 'server on PostgreSQL', include: ['server/**/*.test.ts'], exclude: ['server/store-sqlite.test.ts', 'server/event-log.test.ts', 'server/routing.test.ts'],
        // Each change is a few round trips to a real database: on a busy machine a test may take longer than the default 5 s.
        testTimeout: 20_000,
        globalSetup: ['server/fakes/postgres-setup.ts'] } },
    ],
  },
});
