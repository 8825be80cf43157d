/** @module templates/discover — finds template folders under `agents/` and refuses folders that lead outside it. */
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../core/errors.js';
import { displayPath, MANIFEST_FILE } from './template-file.js';

const TEMPLATE_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** Is `child` the same as, or inside, `parent` (both real paths)? */
export function isInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * The folder of template `name`, checked to stay inside `agentsDir` after symlinks are resolved.
 * @throws FactoryError `E_TEMPLATE_NOT_FOUND`, or `E_TEMPLATE_INVALID` for a folder that leads elsewhere.
 */
export function templateDir(agentsDir: string, name: string, displayRoot: string): string {
  if (!TEMPLATE_NAME.test(name)) {
    throw new FactoryError('E_TEMPLATE_NOT_FOUND', `"${name}" is not a template name (lowercase letters, digits and dashes); run \`af templates list\``);
  }
  const dir = path.join(agentsDir, name);
  let stat;
  try {
    stat = lstatSync(dir);
  } catch {
    throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no template named "${name}" in ${displayPath(agentsDir, displayRoot)}; run \`af templates list\` to see what is available`);
  }
  if (stat.isSymbolicLink()) {
    const target = realpathSafe(dir);
    const realAgents = realpathSafe(agentsDir);
    if (target === undefined || realAgents === undefined || !isInside(realAgents, target)) {
      throw new FactoryError(
        'E_TEMPLATE_INVALID',
        `${displayPath(dir, displayRoot)} is a symlink to ${target ?? 'a missing path'}, outside ${displayPath(agentsDir, displayRoot)}; copy the template into the folder instead`,
        { problems: [{ file: displayPath(dir, displayRoot), message: `symlink to ${target ?? 'a missing path'} leaves the agents folder` }] },
      );
    }
  } else if (!stat.isDirectory()) {
    throw new FactoryError('E_TEMPLATE_NOT_FOUND', `${displayPath(dir, displayRoot)} is not a folder`);
  }
  return dir;
}

/** Names of every folder under `agentsDir` that holds an `agent.json` (invalid ones included), sorted. */
export function discoverTemplateNames(agentsDir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(agentsDir);
  } catch {
    return [];
  }
  return entries
    .filter((name) => {
      try {
        return lstatSync(path.join(agentsDir, name, MANIFEST_FILE)).isFile() || lstatSync(path.join(agentsDir, name)).isSymbolicLink();
      } catch {
        return false;
      }
    })
    .sort();
}

function realpathSafe(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}
