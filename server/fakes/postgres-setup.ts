/**
 * Vitest global setup of the "server on PostgreSQL" project: one temporary
 * cluster for the run; each test server gets a database of its own
 * (test-store.ts).
 */
import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const cluster = await startPostgres();
  project.provide('postgresUrl', cluster.url);
  return () => cluster.stop();
}
