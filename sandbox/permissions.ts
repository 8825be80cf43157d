/** @module sandbox/permissions — the checks behind every tool call: net host matching, path containment after realpath with grants held to their base, denial messages. */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { type ErrorCode, isToolErrorCode, type ToolErrorCode } from '../core/errors.js';

/** Thrown by a host tool when a permission check fails; becomes an `E_PERMISSION_DENIED` error inside the isolate. */
export class ToolDenied extends Error {
  readonly permission: string;
  readonly target: string;
  readonly grantKey: string;

  /** @param reason replaces "grant it in agent.json at …" where granting is not what is missing (a grant redirected by a link). */
  constructor(permission: string, target: string, reason?: string) {
    const grantKey = `permissions.${permission}`;
    const what = target === '' ? `${permission} access` : `${permission} access to ${JSON.stringify(target)}`;
    super(reason === undefined ? `Requires ${what}, grant it in agent.json at ${grantKey}` : `Requires ${what}: ${reason}`);
    this.name = 'NotCapable';
    this.permission = permission;
    this.target = target;
    this.grantKey = grantKey;
  }
}

/** A tool failure that is not a denial (bad argument, missing file, limit); crosses into the isolate with its code. */
export class ToolError extends Error {
  /** One of core's codes: what an agent may match on is documented there (`TOOL_ERROR_CODES` and the run codes). */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, name = 'Error') {
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

/** Longest path a file tool accepts, in bytes (Linux PATH_MAX). */
const MAX_PATH_BYTES = 4096;

/** The real root of one grant; `redirect` says why a grant admits nothing (a link redirects it). */
interface GrantRoot {
  grant: string;
  /** Lexical path of the grant, resolved against the template folder. */
  lexical: string;
  root: string;
  redirect?: string;
}

/** Real roots of one call's grants, and the paths a request resolves to. */
export interface ResolvedPath {
  /** The real path to open. */
  path: string;
  /** The grants that admit it. */
  grants: string[];
  /** Real roots of every grant that admits anything: what the path actually opened is checked against again. */
  roots: ReadonlyArray<{ grant: string; root: string }>;
}

/**
 * The real path of `target`; where it does not exist (a folder or file to be created), the real path of its
 * nearest existing ancestor plus the rest as written. Links in the missing part cannot exist yet; the path
 * actually opened is checked again.
 */
async function realOrAnchored(target: string): Promise<string> {
  const rest: string[] = [];
  let current = target;
  for (;;) {
    try {
      return path.join(await realpath(current), ...rest);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return target;
      rest.unshift(path.basename(current));
      current = parent;
    }
  }
}

/**
 * Real roots of the grants, each held to the folder it names, so a link cannot redirect a grant:
 * - a relative grant inside the template folder (`./data`) is that folder under the template folder's real path:
 *   no link may stand between the two. The template's code is signed but what lies beside it (`data`, `out`) is
 *   not: whoever can write the project could swap such a folder for a link to `/etc`, to another project or to
 *   the template folder itself (its own code), and policy rules, which read grants as written, would not see it.
 * - an absolute grant, or a relative one that climbs out with `..`, is the signer's explicit choice of a place
 *   on this machine: the folders above it are the machine's layout and are followed (`/var` → `/private/var`),
 *   but the grant itself may not be a link.
 * A redirected grant admits nothing; it is kept to name it in the denial.
 */
async function realGrants(dir: string, grants: readonly string[]): Promise<GrantRoot[]> {
  const out: GrantRoot[] = [];
  for (const grant of grants) {
    if (grant.includes('\0')) continue;
    const lexical = path.resolve(dir, grant);
    const root = await realOrAnchored(lexical);
    const isInFolder = !path.isAbsolute(grant) && isInside(lexical, dir);
    const asWritten = isInFolder ? lexical : path.join(await realOrAnchored(path.dirname(lexical)), path.basename(lexical));
    if (root === asWritten) {
      out.push({ grant, lexical, root });
      continue;
    }
    const where = isInFolder && !isInside(root, dir) ? `, outside the template folder ${JSON.stringify(dir)}` : '';
    out.push({ grant, lexical, root, redirect: `it leads through a symlink to ${JSON.stringify(root)}${where}, not to the folder it names` });
  }
  return out;
}

/**
 * A path a grant admits but that does not exist. It carries the admitting grants: the check passed, so the
 * run used them (an agent that reads a cache file it expects to be missing still needs that grant).
 */
export function notFound(message: string, grants: string[]): ToolError & { grants: string[] } {
  return Object.assign(new ToolError('ENOENT', message, 'NotFound'), { grants });
}

/**
 * Where no grant reaches, whatever it says: `/proc` holds the environment, memory and open files of the process that
 * serves file tools (the calling process: `/proc/self`, `/proc/thread-self` and `/proc/<pid>` all lead there) and of
 * every other process of its user, so a grant of `/` must not read the secrets the env allowlist keeps back.
 */
const NEVER_GRANTED = '/proc';

/** The grants whose real root holds `candidate`. */
export function grantsHolding(roots: ReadonlyArray<{ grant: string; root: string }>, candidate: string): string[] {
  if (isInside(candidate, NEVER_GRANTED)) return [];
  return roots.filter(({ root }) => isInside(candidate, root)).map(({ grant }) => grant);
}

/** The code a file system failure reaches the agent with: its own when documented (`ENOENT`, `EACCES`, …), else `EIO`. */
export function fileErrorCode(code: unknown): ToolErrorCode {
  return isToolErrorCode(code) && code !== 'E_FETCH' ? code : 'EIO';
}

/** Refuses what no path may hold before any file system call: NUL bytes (which C would cut the path at) and overlong paths. */
function checkRequested(tool: string, requested: string): void {
  if (requested.includes('\0')) throw new ToolError('E_USAGE', `${tool}: the path contains a NUL byte`, 'TypeError');
  if (Buffer.byteLength(requested) > MAX_PATH_BYTES) throw new ToolError('E_USAGE', `${tool}: the path is longer than ${MAX_PATH_BYTES} bytes`, 'TypeError');
}

/** Splits the grants' real roots into those that admit and those a link redirected. */
async function rootsOf(dir: string, grants: readonly string[]): Promise<{ valid: ResolvedPath['roots']; redirected: GrantRoot[] }> {
  const all = await realGrants(dir, grants);
  return { valid: all.filter((root) => root.redirect === undefined), redirected: all.filter((root) => root.redirect !== undefined) };
}

/** The denial for a request that no grant admits, naming a redirected grant that would have (so the operator sees why). */
function denial(permission: 'read' | 'write', redirected: GrantRoot[], lexical: string, real: string): ToolDenied {
  const culprit = redirected.find((g) => isInside(lexical, g.lexical) || isInside(real, g.root));
  if (culprit === undefined) return new ToolDenied(permission, lexical === real ? lexical : `${lexical} -> ${real}`);
  return new ToolDenied(
    permission,
    lexical,
    `permissions.${permission} grants ${JSON.stringify(culprit.grant)}, but ${culprit.redirect}; a grant may not be redirected by a link: replace the link by the folder itself, or grant the folder it leads to and sign again`,
  );
}

/**
 * Resolves a path for reading: symlinks are resolved with realpath BEFORE the containment check,
 * so `..` and links pointing outside every grant are denied. The file is then opened by {@link openGranted},
 * which checks the path actually opened again.
 * @returns the real path to open, the grants that admit it and every grant's real root.
 */
export async function resolveReadPath(dir: string, grants: readonly string[], requested: string): Promise<ResolvedPath> {
  checkRequested('readTextFile', requested);
  const lexical = path.resolve(dir, requested);
  // Without a grant nothing is looked up: a locked-down host may not touch the file system at all (sandbox/lockdown).
  if (grants.length === 0) throw new ToolDenied('read', lexical);
  const { valid, redirected } = await rootsOf(dir, grants);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    // Nothing to resolve: deny unless the lexical path is inside a grant, so probing reveals nothing outside.
    const holding = grantsHolding(valid, lexical);
    if (holding.length > 0) throw notFound(`No such file: ${requested}`, holding);
    throw denial('read', redirected, lexical, lexical);
  }
  const holding = grantsHolding(valid, real);
  if (holding.length === 0) throw denial('read', redirected, lexical, real);
  return { path: real, grants: holding, roots: valid };
}

/**
 * Resolves a path for writing: the parent is resolved with realpath and the final component must not
 * be a symlink that leads outside. {@link openGranted} then opens the name inside the parent it checked,
 * never following a link.
 * @returns the path to open, the grants that admit it and every grant's real root.
 */
export async function resolveWritePath(dir: string, grants: readonly string[], requested: string): Promise<ResolvedPath> {
  checkRequested('writeTextFile', requested);
  const lexical = path.resolve(dir, requested);
  // Without a grant nothing is looked up: a locked-down host may not touch the file system at all (sandbox/lockdown).
  if (grants.length === 0) throw new ToolDenied('write', lexical);
  const { valid, redirected } = await rootsOf(dir, grants);
  let parent: string;
  try {
    parent = await realpath(path.dirname(lexical));
  } catch {
    const holding = grantsHolding(valid, lexical);
    if (holding.length > 0) throw notFound(`No such folder: ${path.dirname(requested)}`, holding);
    throw denial('write', redirected, lexical, lexical);
  }
  const target = path.join(parent, path.basename(lexical));
  const holding = grantsHolding(valid, target);
  if (holding.length === 0) throw denial('write', redirected, lexical, target);
  try {
    const info = await lstat(target);
    if (info.isSymbolicLink()) {
      let real: string;
      try {
        real = await realpath(target);
      } catch {
        throw new ToolDenied('write', `${lexical} -> (dangling link)`);
      }
      const holdingReal = grantsHolding(valid, real);
      if (holdingReal.length === 0) throw denial('write', redirected, lexical, real);
      return { path: real, grants: holdingReal, roots: valid };
    }
  } catch (error) {
    if (error instanceof ToolDenied) throw error;
    // ENOENT: a new file, created under a real parent inside the grant.
  }
  return { path: target, grants: holding, roots: valid };
}
