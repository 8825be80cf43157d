// vitest global setup: one PostgreSQL server for the whole test run (or the one AF_TEST_PG_URL names), whose URL
// tests read with `inject('postgresAdminUrl')` (test/helpers/postgres). Each test makes its own database on it.
import type { TestProject } from 'vitest/node';
import { startPostgresServer } from './helpers/postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.AF_TEST_PG_URL;
  if (given) {
    project.provide('postgresAdminUrl', given);
    return async () => {};
  }
  const server = await startPostgresServer();
  project.provide('postgresAdminUrl', server.adminUrl);
  return () => server.stop();
}
