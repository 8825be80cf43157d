// The API under test: a temp project with small templates, a real store file, a real factory, API keys for two tenants × four roles,
// and in-memory suggestion and rollout services, so the role × tenant table does not depend on training a model
// (test/api/learner-services.test.ts drives the same routes through the real learner).
import path from 'node:path';
import type { RetiredVersion, RolloutService, SuggestionService } from '../../api/index.js';
import { FactoryError } from '../../core/errors.js';
import type { Suggestion } from '../../core/suggestion.js';
import { type AgentFactory, createFactory } from '../../runtime/index.js';
import { openStore, type Role, ROLES, type Store } from '../../store/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

export const TENANTS = ['acme', 'globex'] as const;
export type Tenant = (typeof TENANTS)[number];

export interface ApiFixture {
  project: TempProject;
  store: Store;
  factory: AgentFactory;
  /** keys[tenant][role] */
  keys: Record<Tenant, Record<Role, { id: string; key: string }>>;
  /** Keys of the installation (tenant `*`), by role: the only ones that reach installation-wide routes. */
  installation: Record<Role, { id: string; key: string }>;
  revokedKey: string;
  close(): Promise<void>;
}

export function projectFiles() {
  return {
    ...simpleTemplate(
      'hello',
      {
        description: 'Greets and counts per tenant',
        permissions: { kv: true },
        input: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: false },
      },
      `export default async function (input, ctx) {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  return { greeting: 'Hello, ' + input.name, n };
}
`,
    ),
    ...simpleTemplate('thrower', {}, "export default () => { throw new Error('boom'); };\n"),
    ...simpleTemplate('slow', { limits: { timeoutMs: 5000 } }, 'export default (input) => new Promise((resolve) => setTimeout(() => resolve({ waited: input.ms }), input.ms));\n'),
    'agents/base/agent.json': { name: 'base', version: '0.1.0', abstract: true },
  };
}

export async function createApiFixture(): Promise<ApiFixture> {
  const project = createProject(projectFiles());
  const store = openStore({ path: path.join(project.root, '.af', 'factory.db') });
  const factory = await createFactory({ root: project.root, hosts: 1, store, prewarm: ['hello'] });
  const keys = {} as ApiFixture['keys'];
  for (const tenant of TENANTS) {
    keys[tenant] = {} as Record<Role, { id: string; key: string }>;
    for (const role of ROLES) {
      const { record, key } = store.tenants.createApiKey(tenant, role, `${tenant}-${role}`);
      keys[tenant][role] = { id: record.id, key };
    }
  }
  const installation = {} as ApiFixture['installation'];
  for (const role of ROLES) {
    const { record, key } = store.tenants.createApiKey('*', role, `installation-${role}`);
    installation[role] = { id: record.id, key };
  }
  const revoked = store.tenants.createApiKey('acme', 'admin', 'revoked');
  store.tenants.revokeApiKey(revoked.record.id);
  return {
    project,
    store,
    factory,
    keys,
    installation,
    revokedKey: revoked.key,
    async close() {
      await factory.close();
      await store.close();
      project.remove();
    },
  };
}

export function suggestion(id: string, tenant: string, overrides: Partial<Suggestion> = {}): Suggestion {
  return {
    id,
    kind: 'right-sizing',
    template: 'hello',
    tenant,
    baseVersion: '1.0.0',
    baseDigest: 'd'.repeat(64),
    patch: [{ op: 'replace', path: '/limits/memoryMb', value: 32 }],
    evidence: { runs: 120, heapPeakP95: 9_000_000 },
    expectedImpact: { summary: 'memory limit 64 → 32 MB', memoryMb: -32 },
    confidence: 0.9,
    state: 'open',
    createdAt: 1_700_000_000_000,
    evidenceKey: `ek-${id}`,
    ...overrides,
  };
}

/** In memory; mirrors what the learner promises: only open suggestions can be decided. */
export class MemorySuggestions implements SuggestionService {
  readonly #items = new Map<string, Suggestion>();
  readonly calls: Array<{ verb: 'accept' | 'reject'; id: string; actor: string; reason?: string }> = [];

  add(item: Suggestion): Suggestion {
    this.#items.set(item.id, structuredClone(item));
    return item;
  }

  list(filter: { tenant: string; template?: string; state?: string }): Suggestion[] {
    return [...this.#items.values()].filter((s) => s.tenant === filter.tenant && (filter.template === undefined || s.template === filter.template) && (filter.state === undefined || s.state === filter.state));
  }

  get(id: string): Suggestion | undefined {
    return this.#items.get(id);
  }

  async accept(id: string, options: { actor: string; reason?: string }): Promise<Suggestion> {
    return this.#decide(id, 'accepted', options.actor, options.reason);
  }

  async reject(id: string, options: { actor: string; reason: string }): Promise<Suggestion> {
    return this.#decide(id, 'rejected', options.actor, options.reason);
  }

  #decide(id: string, state: 'accepted' | 'rejected', actor: string, reason: string | undefined): Suggestion {
    const item = this.#items.get(id);
    if (!item) throw new FactoryError('E_NOT_FOUND', `no suggestion ${id}`);
    if (item.state !== 'open') throw new FactoryError('E_CONFLICT', `suggestion ${id} is ${item.state}`);
    this.calls.push({ verb: state === 'accepted' ? 'accept' : 'reject', id, actor, ...(reason !== undefined ? { reason } : {}) });
    const decided: Suggestion = { ...item, state, decidedAt: 1_700_000_100_000, decidedBy: actor, ...(reason !== undefined ? { reason } : {}), ...(state === 'accepted' ? { candidateVersion: '1.0.1' } : {}) };
    this.#items.set(id, decided);
    return decided;
  }
}

export class MemoryRollouts implements RolloutService {
  readonly calls: Array<{ name: string; to?: string; actor: string }> = [];

  async rollback(name: string, options: { to?: string; actor: string }): Promise<{ name: string; version: string }> {
    if (name !== 'hello') throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no versions of ${name} to roll back to`);
    this.calls.push({ name, actor: options.actor, ...(options.to !== undefined ? { to: options.to } : {}) });
    return { name, version: options.to ?? '0.9.0' };
  }

  async retire(name: string, version: string, options: { reason?: string; actor: string }): Promise<RetiredVersion> {
    if (name !== 'hello') throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no template ${name}`);
    return { name, version, retiredAt: 1_700_000_000_000, reason: options.reason ?? '', by: options.actor, isNew: true };
  }
}
