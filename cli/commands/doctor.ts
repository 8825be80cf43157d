/** @module cli/commands/doctor — `af doctor`: what this machine and project give the sandbox (Node, isolated-vm, host lockdown, store, keys, policy), and what is missing. */
import { existsSync, readdirSync } from 'node:fs';
import { FactoryError } from '../../core/errors.js';
import { ISOLATE_ESCAPE_ADVISORY as ADVISORY, isolateLibrary, type LayerStatus, type LayerSupport, lockdownReport, lockdownSupport } from '../../sandbox/index.js';
import { integrityProblems, openDatabase, parseStoreLocation } from '../../store/index.js';
import { redactUrl } from '../../store/postgres/connection-url.js';
import { DEFAULT_DEV_ENVIRONMENTS, loadPolicy } from '../../templates/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { printJson } from '../io.js';


export interface DoctorReport {
  env: string;
  node: { version: string };
  isolatedVm: { version: string | null; patched: boolean; advisory: string };
  /** `via`: how an active `network` layer gets its namespace (as root, or in a user namespace). */
  lockdown: Array<LayerStatus & Pick<LayerSupport, 'via'>>;
  store: { path: string; exists: boolean; healthy: boolean; problems: string[] };
  keys: { dir: string; privateKeys: number };
  policy: { source: string; rules: number; error?: string };
  /** What is missing; outside a dev environment any of it makes `af doctor` exit non-zero. */
  problems: string[];
  ok: boolean;
}

/** Gathers the report: reads files, opens the store read-only, never writes. */
export async function doctorReport(context: CommandContext): Promise<DoctorReport> {
  const config = context.config();
  const problems: string[] = [];
  const { version, patched } = isolateLibrary();
  if (version === undefined) problems.push('isolated-vm cannot be loaded: reinstall the package (npm ci)');
  else if (!patched) problems.push(`isolated-vm ${version} has a known isolate escape (${ADVISORY}), fixed in 6.2.0 and 7.0.1: run on Node 22 or 24, where the patched isolated-vm installs`);
  const support = lockdownSupport();
  const lockdown = lockdownReport('auto', support).map((status) => {
    const via = status.active ? support.find((s) => s.layer === status.layer)?.via : undefined;
    return via === undefined ? status : { ...status, via };
  });
  for (const layer of lockdown) if (!layer.active) problems.push(`sandbox host lockdown: ${layer.layer} is off (${layer.reason})`);

  const location = parseStoreLocation(config.store, config.root);
  const storePath = location.kind === 'sqlite' ? location.path : redactUrl(location.url);
  const exists = location.kind === 'postgres' || existsSync(location.path);
  let storeProblems: string[] = [];
  if (location.kind === 'postgres') {
    storeProblems = await postgresStoreProblems(location.url);
    for (const problem of storeProblems.slice(0, 3)) problems.push(`store ${storePath}: ${problem}`);
  } else if (exists) {
    try {
      const db = openDatabase(location.path, { readonly: true });
      try {
        storeProblems = integrityProblems(db);
      } finally {
        db.close();
      }
    } catch (error) {
      storeProblems = [error instanceof Error ? error.message : String(error)];
    }
    for (const problem of storeProblems.slice(0, 3)) problems.push(`store ${storePath}: ${problem}`);
  }

  let privateKeys = 0;
  try {
    privateKeys = readdirSync(config.keysDir).filter((name) => name.endsWith('.key.pem')).length;
  } catch {
    // No keys folder: no keys.
  }

  let policy: DoctorReport['policy'];
  try {
    const loaded = loadPolicy(config.policyPath, config.root);
    policy = { source: loaded.source, rules: loaded.rules.length };
  } catch (error) {
    const message = error instanceof FactoryError || error instanceof Error ? error.message : String(error);
    policy = { source: config.policyPath, rules: 0, error: message };
    problems.push(`policy: ${message}`);
  }

  return {
    env: config.env,
    node: { version: process.versions.node },
    isolatedVm: { version: version ?? null, patched, advisory: ADVISORY },
    lockdown,
    store: { path: storePath, exists, healthy: storeProblems.length === 0, problems: storeProblems },
    keys: { dir: config.keysDir, privateKeys },
    policy,
    problems,
    ok: problems.length === 0,
  };
}

/** `af doctor [--json]`: exits non-zero outside a dev environment when something is missing. */
export async function doctorCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  const report = await doctorReport(context);
  const required = !DEFAULT_DEV_ENVIRONMENTS.includes(report.env);
  const status = report.ok || !required ? EXIT.ok : EXIT.failed;
  if (options.json) {
    printJson(context.streams, report);
    return status;
  }
  const { paint } = context;
  const yes = (on: boolean, text: string) => (on ? paint.green(text) : paint.red(text));
  const lines = [
    `environment   ${report.env}`,
    `node          ${report.node.version}`,
    `isolated-vm   ${report.isolatedVm.version ?? 'not found'} ${yes(report.isolatedVm.patched, report.isolatedVm.patched ? 'patched' : `unpatched (${ADVISORY})`)}`,
    'host lockdown',
    ...report.lockdown.map((layer) => `  ${layer.layer.padEnd(11)} ${yes(layer.active, layer.active ? 'on ' : 'off')} ${layer.via ? `via ${layer.via}; ` : ''}${layer.reason}`),
    `store         ${report.store.path} ${report.store.exists ? yes(report.store.healthy, report.store.healthy ? 'healthy' : 'damaged') : '(not created yet)'}`,
    `signing keys  ${report.keys.privateKeys} private key${report.keys.privateKeys === 1 ? '' : 's'} in ${report.keys.dir}`,
    `policy        ${report.policy.source}, ${report.policy.rules} rule${report.policy.rules === 1 ? '' : 's'}${report.policy.error ? ` ${paint.red(report.policy.error)}` : ''}`,
  ];
  context.streams.stdout.write(`${lines.join('\n')}\n`);
  if (report.problems.length > 0) {
    const out = required ? context.streams.stderr : context.streams.stdout;
    const heading = required ? `missing for ${report.env}:` : `fine for ${report.env}, but missing outside a dev environment:`;
    out.write(`${heading}\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  }
  return status;
}

/**
 * A PostgreSQL store's problems, read-only: whether it answers, whether its schema is the one this code needs, and the
 * cheap integrity checks (store/postgres/data-ops). Loaded only for a PostgreSQL store.
 */
async function postgresStoreProblems(url: string): Promise<string[]> {
  const { PgDatabase } = await import('../../store/postgres/connection.js');
  const { POSTGRES_SCHEMA_VERSION, schemaVersionOf } = await import('../../store/postgres/migrations.js');
  const { postgresIntegrityProblems } = await import('../../store/postgres/data-ops.js');
  const db = new PgDatabase(url, { maxConnections: 1, connectTimeoutMs: 5_000 });
  try {
    const version = await schemaVersionOf(db);
    if (version !== POSTGRES_SCHEMA_VERSION) return [`schema version ${version}, and this version of Agent Factory needs ${POSTGRES_SCHEMA_VERSION}: run \`af migrate\``];
    return await postgresIntegrityProblems(db);
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  } finally {
    await db.close();
  }
}
