/** @module cli/commands/versions — `af versions list NAME` and `af versions retire NAME VERSION`: the recorded versions of a template, and withdrawing one from service. */
import { retireVersion } from '../../learner/index.js';
import { TemplateRegistry } from '../../templates/index.js';
import { escapeLine } from '../../core/terminal-text.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';
import { withStore } from '../store-access.js';

function registryOf(context: CommandContext): TemplateRegistry {
  const config = context.config();
  return new TemplateRegistry({ agentsDir: config.agentsDir, displayRoot: config.root, bundleCacheDir: config.bundleCacheDir, env: config.env });
}

function actorOf(context: CommandContext): string {
  return context.streams.env.AF_ACTOR ?? context.streams.env.USER ?? 'cli';
}

interface VersionRow {
  version: string;
  digest: string;
  signed: boolean;
  recordedAt: number;
  isOnDisk: boolean;
  canary?: 'candidate' | 'stable';
  retired?: { at: number; reason: string; by: string };
  /** The keys folder does not vouch for this row: it is never restored, routed to or run. */
  unsealed?: true;
}

/** Recorded versions of a template, oldest first, with whether each is signed, retired, on disk or in a canary. */
export function versionsListCommand(context: CommandContext, name: string, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const registry = registryOf(context);
    try {
      const onDisk = registry.names().includes(name) ? await registry.inspect(name).then((t) => t.version, () => undefined) : undefined;
      const rollout = await store.rollouts.get(name);
      const canary = rollout?.state === 'canary' ? rollout : undefined;
      const retirements = new Map(store.trust.retirements(name).map((r) => [r.version, r]));
      const recorded = await store.versions.list(name);
      const rows = recorded.map((v): VersionRow => {
        const retired = retirements.get(v.version);
        return {
          version: v.version,
          digest: v.digest,
          signed: v.signed,
          recordedAt: v.recordedAt,
          isOnDisk: v.version === onDisk,
          ...(canary?.candidateVersion === v.version ? { canary: 'candidate' } : canary?.stableVersion === v.version ? { canary: 'stable' } : {}),
          ...(retired ? { retired: { at: retired.retiredAt, reason: retired.reason, by: retired.by } } : {}),
          ...(v.unsealed ? { unsealed: true as const } : {}),
        };
      });
      // Retired versions this store never recorded are listed too: a retirement covers them.
      const unrecorded = [...retirements.values()].filter((r) => !recorded.some((v) => v.version === r.version));
      if (options.json) {
        printJson(context.streams, { name, onDisk: onDisk ?? null, versions: rows, retiredUnrecorded: unrecorded.map((r) => ({ version: r.version, at: r.retiredAt, reason: r.reason, by: r.by })) });
        return EXIT.ok;
      }
      if (rows.length === 0 && unrecorded.length === 0) {
        context.streams.stderr.write(`no recorded versions of "${name}"; versions are recorded when they are signed or run\n`);
        return EXIT.ok;
      }
      const { paint } = context;
      const table = [
        ...rows.map((row) => [
          row.version,
          row.digest.slice(0, 12),
          row.signed ? 'signed' : paint.yellow('unsigned'),
          row.unsealed ? paint.red('not sealed: refused (recorded without the keys folder)') : row.retired ? paint.red(`retired ${new Date(row.retired.at).toISOString().slice(0, 10)}${row.retired.reason ? `: ${escapeLine(row.retired.reason)}` : ''}`) : [row.isOnDisk ? 'on disk' : '', row.canary ? `canary ${row.canary}` : ''].filter(Boolean).join(', '),
        ]),
        ...unrecorded.map((r) => [r.version, '(not recorded)', '', paint.red(`retired ${new Date(r.retiredAt).toISOString().slice(0, 10)}${r.reason ? `: ${escapeLine(r.reason)}` : ''}`)]),
      ];
      context.streams.stdout.write(`${formatTable(['VERSION', 'DIGEST', 'SIGNATURE', 'STATUS'], table)}\n`);
      return EXIT.ok;
    } finally {
      registry.close();
    }
  });
}

/** Retires a version: refused outside dev from now on, by this and every other process sharing the store. */
export function versionsRetireCommand(context: CommandContext, name: string, version: string, options: { reason?: string; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const registry = registryOf(context);
    try {
      const result = await retireVersion({ store, registry }, name, version, { actor: actorOf(context), ...(options.reason !== undefined ? { reason: options.reason } : {}) });
      if (options.json) {
        printJson(context.streams, result);
        return EXIT.ok;
      }
      const { stdout, stderr } = context.streams;
      if (!result.isNew) {
        stdout.write(`${name} ${version} was already retired on ${new Date(result.retiredAt).toISOString()} by ${escapeLine(result.by)}\n`);
        return EXIT.ok;
      }
      stdout.write(`retired ${name} ${version}: every environment but dev refuses it from now on, running servers included\n`);
      if (result.digests.length === 0) stderr.write(`note: this store recorded no content under ${name} ${version}; the retirement covers any content signed as that version\n`);
      if (result.endedCanary) {
        stderr.write(`ended the canary of ${name} ${version}${result.endedCanary.restored ? `; ${result.endedCanary.stable} is back on disk` : `; ${result.endedCanary.stable} gets every new agent`}\n`);
      }
      if (result.isOnDisk) stderr.write(`warning: ${version} is the version on disk, so ${name} runs nowhere but dev until you roll back (\`af rollback ${name}\`) or sign a newer version\n`);
      return EXIT.ok;
    } finally {
      registry.close();
    }
  });
}
