/** @module sandbox/permissions — the checks behind every tool call: net host matching, path containment after realpath, denial messages. */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';

/** Thrown by a host tool when a permission check fails; becomes an `E_PERMISSION_DENIED` error inside the isolate. */
export class ToolDenied extends Error {
  readonly permission: string;
  readonly target: string;
  readonly grantKey: string;

  /** @param message when a grant would not help (a policy rule denies it), what the agent's author should know instead. */
  constructor(permission: string, target: string, message?: string) {
    const grantKey = `permissions.${permission}`;
    const what = target === '' ? `${permission} access` : `${permission} access to ${JSON.stringify(target)}`;
    super(message ?? `Requires ${what}, grant it in agent.json at ${grantKey}`);
    this.name = 'NotCapable';
    this.permission = permission;
    this.target = target;
    this.grantKey = grantKey;
  }
}

/** A tool failure that is not a denial (bad argument, missing file, limit); crosses into the isolate with its code. */
export class ToolError extends Error {
  readonly code: string;

  constructor(code: string, message: string, name = 'Error') {
    super(message);
    this.code = code;
    this.name = name;
  }
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** The `host:port` a URL reaches, with the scheme's default port filled in; what denials name. */
export function netTarget(url: URL): { host: string; port: number; label: string } {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const port = url.port === '' ? (DEFAULT_PORTS[url.protocol] ?? 0) : Number(url.port);
  const label = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { host, port, label };
}

/**
 * True when a `permissions.net` entry admits host and port. Entries are `host`, `host:port`,
 * `*.suffix` or `*.suffix:port`; an entry without a port admits every port (as Deno's `--allow-net=host`).
 * `*.example.com` admits subdomains only, not `example.com` itself.
 */
export function netGrantMatches(grant: string, host: string, port: number): boolean {
  let entry = grant.trim().toLowerCase();
  let grantPort: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracket) {
    entry = bracket[1] ?? '';
    if (bracket[2] !== undefined) grantPort = Number(bracket[2]);
  } else {
    const colon = entry.lastIndexOf(':');
    if (colon !== -1 && entry.indexOf(':') === colon) {
      const portText = entry.slice(colon + 1);
      if (!/^\d+$/.test(portText)) return false;
      grantPort = Number(portText);
      entry = entry.slice(0, colon);
    }
  }
  if (grantPort !== undefined && grantPort !== port) return false;
  if (entry === '*') return true;
  if (entry.startsWith('*.')) {
    const suffix = entry.slice(1);
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return entry === host;
}

/**
 * Checks a URL against `permissions.net`; only http and https are reachable at all.
 * @returns the entries that admit it (what the run used, for least-privilege suggestions).
 */
export function checkNet(grants: readonly string[], url: URL): string[] {
  const target = netTarget(url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ToolDenied('net', `${url.protocol}//${target.label}`);
  const matched = grants.filter((grant) => netGrantMatches(grant, target.host, target.port));
  if (matched.length === 0) throw new ToolDenied('net', target.label);
  return matched;
}

function isInside(candidate: string, root: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(prefix);
}

/**
 * Real paths of the grants. A grant that does not exist yet (a file to be written) is its parent's real path
 * plus its name; one whose parent does not exist either admits nothing.
 */
async function realGrants(dir: string, grants: readonly string[]): Promise<Array<{ grant: string; root: string }>> {
  const out: Array<{ grant: string; root: string }> = [];
  for (const grant of grants) {
    const lexical = path.resolve(dir, grant);
    try {
      out.push({ grant, root: await realpath(lexical) });
    } catch {
      try {
        out.push({ grant, root: path.join(await realpath(path.dirname(lexical)), path.basename(lexical)) });
      } catch {
        // Nothing to anchor the grant to; skipping it is the safe reading.
      }
    }
  }
  return out;
}

/**
 * A path a grant admits but that does not exist. It carries the admitting grants: the check passed, so the
 * run used them (an agent that reads a cache file it expects to be missing still needs that grant).
 */
function notFound(message: string, grants: string[]): ToolError & { grants: string[] } {
  return Object.assign(new ToolError('ENOENT', message, 'NotFound'), { grants });
}

/** The grants whose real root holds `candidate`. */
function grantsHolding(roots: ReadonlyArray<{ grant: string; root: string }>, candidate: string): string[] {
  return roots.filter(({ root }) => isInside(candidate, root)).map(({ grant }) => grant);
}

/**
 * Resolves a path for reading: symlinks are resolved with realpath BEFORE the containment check,
 * so `..` and links pointing outside every grant are denied.
 * @returns the real path to open, and the grants that admit it.
 */
export async function resolveReadPath(dir: string, grants: readonly string[], requested: string): Promise<{ path: string; grants: string[] }> {
  const lexical = path.resolve(dir, requested);
  const roots = await realGrants(dir, grants);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    // Nothing to resolve: deny unless the lexical path is inside a grant, so probing reveals nothing outside.
    const holding = grantsHolding(roots, lexical);
    if (holding.length > 0) throw notFound(`No such file: ${requested}`, holding);
    throw new ToolDenied('read', lexical);
  }
  const holding = grantsHolding(roots, real);
  if (holding.length === 0) throw new ToolDenied('read', lexical === real ? lexical : `${lexical} -> ${real}`);
  return { path: real, grants: holding };
}

/**
 * Resolves a path for writing: the parent is resolved with realpath and the final component must not
 * be a symlink that leads outside (the write itself opens with O_NOFOLLOW, closing the race).
 * @returns the path to open, and the grants that admit it.
 */
export async function resolveWritePath(dir: string, grants: readonly string[], requested: string): Promise<{ path: string; grants: string[] }> {
  const lexical = path.resolve(dir, requested);
  const roots = await realGrants(dir, grants);
  let parent: string;
  try {
    parent = await realpath(path.dirname(lexical));
  } catch {
    const holding = grantsHolding(roots, lexical);
    if (holding.length > 0) throw notFound(`No such folder: ${path.dirname(requested)}`, holding);
    throw new ToolDenied('write', lexical);
  }
  const target = path.join(parent, path.basename(lexical));
  const holding = grantsHolding(roots, target);
  if (holding.length === 0) throw new ToolDenied('write', lexical);
  try {
    const info = await lstat(target);
    if (info.isSymbolicLink()) {
      let real: string;
      try {
        real = await realpath(target);
      } catch {
        throw new ToolDenied('write', `${lexical} -> (dangling link)`);
      }
      const holdingReal = grantsHolding(roots, real);
      if (holdingReal.length === 0) throw new ToolDenied('write', `${lexical} -> ${real}`);
      return { path: real, grants: holdingReal };
    }
  } catch (error) {
    if (error instanceof ToolDenied) throw error;
    // ENOENT: a new file, created under a real parent inside the grant.
  }
  return { path: target, grants: holding };
}
