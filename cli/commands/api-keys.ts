/** @module cli/commands/api-keys — `af keys api create|list|revoke`: the HTTP API's keys (stored hashed, shown once), each change audited. */
import { FactoryError } from '../../core/errors.js';
import { escapeLine } from '../../core/terminal-text.js';
import { type ApiKeyRecord, INSTALLATION_TENANT, type Role, ROLES } from '../../store/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';
import { withStore } from '../store-access.js';

export interface ApiKeysCreateOptions {
  tenant?: string;
  /** A key of the installation (tenant `*`) rather than of a tenant. */
  installation?: boolean;
  role: string;
  label?: string;
  json?: boolean;
}

function keyView(record: ApiKeyRecord) {
  return {
    id: record.id,
    tenant: record.tenant,
    role: record.role,
    label: record.label,
    createdAt: new Date(record.createdAt).toISOString(),
    status: record.revokedAt === undefined ? 'active' : 'revoked',
    ...(record.revokedAt !== undefined ? { revokedAt: new Date(record.revokedAt).toISOString() } : {}),
  };
}

function parseRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new FactoryError('E_USAGE', `--role must be one of ${ROLES.join(', ')}, not ${JSON.stringify(role)}`);
  return role as Role;
}

/** Creates a key and prints it once: only its hash is stored. */
export async function apiKeysCreateCommand(context: CommandContext, options: ApiKeysCreateOptions): Promise<number> {
  const role = parseRole(options.role);
  // `--tenant '*'` would work too, but a shell glob is an easy way to make the wrong key; the flag says what it means.
  if ((options.tenant === undefined) === (options.installation !== true)) {
    throw new FactoryError('E_USAGE', 'give either --tenant T (a key of one tenant) or --installation (a key for installation-wide actions: accept, rollback, retire, the audit log)');
  }
  const tenant = options.installation ? INSTALLATION_TENANT : (options.tenant as string);
  return withStore(context, async (store) => {
    const { record, key } = await store.tenants.createApiKey(tenant, role, options.label ?? '');
    await store.audit.append({ type: 'api-key.created', actor: 'cli', subject: record.id, data: { tenant: record.tenant, role: record.role, label: record.label } });
    if (options.json) {
      printJson(context.streams, { ...keyView(record), key });
      return EXIT.ok;
    }
    // The key alone on stdout, so `KEY=$(af keys api create …)` works; the advice goes to stderr.
    context.streams.stdout.write(`${key}\n`);
    context.streams.stderr.write(
      `created API key ${record.id} for ${record.tenant === INSTALLATION_TENANT ? 'the installation' : `tenant ${record.tenant}`} with role ${record.role}; store it now: it is kept only as a hash and cannot be shown again\n`,
    );
    return EXIT.ok;
  });
}

export async function apiKeysListCommand(context: CommandContext, options: { tenant?: string; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const views = (await store.tenants.listApiKeys(options.tenant)).map(keyView);
    if (options.json) {
      printJson(context.streams, views);
      return EXIT.ok;
    }
    if (views.length === 0) {
      context.streams.stderr.write(`no API keys${options.tenant ? ` for tenant ${options.tenant}` : ''}; create one with \`af keys api create --tenant T --role R\`\n`);
      return EXIT.ok;
    }
    const { paint } = context;
    const rows = views.map((view) => [
      view.id,
      escapeLine(view.tenant),
      view.role,
      escapeLine(view.label),
      view.createdAt.slice(0, 19).replace('T', ' '),
      view.status === 'active' ? paint.green(view.status) : paint.red(view.status),
    ]);
    context.streams.stdout.write(`${formatTable(['ID', 'TENANT', 'ROLE', 'LABEL', 'CREATED (UTC)', 'STATUS'], rows)}\n`);
    return EXIT.ok;
  });
}

/** Revokes at once: the next request with the key answers 401. Revoking a revoked key changes nothing and is not audited again. */
export async function apiKeysRevokeCommand(context: CommandContext, id: string, options: { json?: boolean } = {}): Promise<number> {
  return withStore(context, async (store) => {
    const before = (await store.tenants.listApiKeys()).find((record) => record.id === id);
    if (!before) throw new FactoryError('E_KEY_NOT_FOUND', `no API key with id ${id}; run \`af keys api list\``);
    const record = before.revokedAt === undefined ? await store.tenants.revokeApiKey(id) : before;
    if (before.revokedAt === undefined) {
      await store.audit.append({ type: 'api-key.revoked', actor: 'cli', subject: record.id, data: { tenant: record.tenant, role: record.role, label: record.label } });
    }
    if (options.json) printJson(context.streams, keyView(record));
    else context.streams.stdout.write(`${before.revokedAt === undefined ? 'revoked' : 'already revoked:'} API key ${record.id} (tenant ${record.tenant}, role ${record.role})\n`);
    return EXIT.ok;
  });
}
