// Runs parts of Agent Factory as an unprivileged user, as most users run it: as uid 65534 (through setpriv) when
// the tests run as root, as the tests' own user otherwise. Each precondition that can fail on some machine comes
// with the sentence a skipped test shows, saying exactly why.
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolateLibrary } from '../../sandbox/isolate-library.js';

export const CHECKOUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NOBODY = 65534;
export const isRoot = process.getuid?.() === 0;
/** The uid the unprivileged runs have. */
export const unprivilegedUid = isRoot ? NOBODY : (process.getuid?.() ?? -1);
const AS_USER: readonly string[] = isRoot ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'] : [];

/** `commandLine` as the unprivileged user would start it. */
export function asUser(commandLine: readonly string[]): [string, string[]] {
  const [command, ...args] = [...AS_USER, ...commandLine] as [string, ...string[]];
  return [command, args];
}

/** Why an unprivileged user cannot get user and network namespaces from the tests here; undefined when it can. */
export function userNamespacesUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'user and network namespaces are Linux only';
  if (isRoot && spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is missing, so tests running as root cannot become uid 65534';
  const unreachable = isRoot ? [os.tmpdir(), ...ancestors(os.tmpdir())].find((dir) => (statSync(dir).mode & 0o001) === 0) : undefined;
  if (unreachable !== undefined) return `${unreachable} is not searchable by other users, so uid ${NOBODY} cannot reach a project in ${os.tmpdir()}`;
  const probe = spawnSync(...asUser(['unshare', '--user', '--net', 'true']), { encoding: 'utf8' });
  if (probe.status !== 0) {
    const said = probe.stderr?.trim() || probe.error?.message || `exit status ${probe.status}`;
    return `uid ${unprivilegedUid} cannot make a user namespace with an empty network namespace on this machine (unshare --user --net: ${said}); see the sysctls user.max_user_namespaces, kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns`;
  }
  return undefined;
}

function ancestors(dir: string): string[] {
  const up = path.dirname(dir);
  return up === dir ? [] : [up, ...ancestors(up)];
}

/** Whether the unprivileged user can read every one of `files`. */
export function readableByUser(files: readonly string[]): boolean {
  return spawnSync(...asUser(['sh', '-c', 'for f; do test -r "$f" || exit 1; done', 'sh', ...files])).status === 0;
}

/** What a sandbox needs on disk: the built runtime, the escape fixtures and isolated-vm, under `root`. */
export interface UnprivilegedRuntime {
  root: string;
  dist: string;
  fixtures: string;
  /** True when the checkout was not readable by the user and these are copies in a world-readable temp folder. */
  copied: boolean;
  remove(): void;
}

/**
 * The runtime as the unprivileged user can read it: the checkout itself where it can (this machine; a CI clone in a
 * world-readable place), otherwise a world-readable copy of `dist/`, the escape fixtures and isolated-vm (a clone
 * under /root, say). Needs `dist/` built.
 */
export function unprivilegedRuntime(): UnprivilegedRuntime {
  const { packageName } = isolateLibrary();
  const needed = (root: string) => [
    path.join(root, 'dist', 'sandbox', 'supervisor.js'),
    path.join(root, 'test', 'fixtures', 'sandbox', 'escape-driver.mjs'),
    path.join(root, 'test', 'fixtures', 'sandbox', 'escape-host.mjs'),
    path.join(root, 'node_modules', packageName, 'package.json'),
  ];
  const at = (root: string, copied: boolean, remove = () => {}) => ({ root, dist: path.join(root, 'dist'), fixtures: path.join(root, 'test', 'fixtures', 'sandbox'), copied, remove });
  if (readableByUser(needed(CHECKOUT))) return at(CHECKOUT, false);
  const root = mkdtempSync(path.join(os.tmpdir(), 'af-runtime-'));
  const remove = () => rmSync(root, { recursive: true, force: true });
  cpSync(path.join(CHECKOUT, 'dist'), path.join(root, 'dist'), { recursive: true });
  for (const name of ['escape-driver.mjs', 'escape-host.mjs']) cpSync(path.join(CHECKOUT, 'test', 'fixtures', 'sandbox', name), path.join(root, 'test', 'fixtures', 'sandbox', name));
  const library = path.dirname(realpathSync(createRequire(import.meta.url).resolve(`${packageName}/package.json`)));
  cpSync(library, path.join(root, 'node_modules', packageName), { recursive: true, dereference: true });
  // The copy is for reading only; mkdtemp made its top folder 0700.
  spawnSync('chmod', ['-R', 'a+rX', root]);
  if (!readableByUser(needed(root))) {
    remove();
    throw new Error(`a world-readable copy of the runtime in ${root} is still not readable by uid ${unprivilegedUid}`);
  }
  return at(root, true, remove);
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `commandLine` as the unprivileged user to its end. */
export function runAsUser(commandLine: readonly string[], options: SpawnOptions & { input?: string } = {}): Promise<Ran> {
  return collect(spawn(...asUser(commandLine), { ...options, stdio: ['pipe', 'pipe', 'pipe'] }), options.input);
}

/** Why `runWithoutUserNamespaces` cannot run here; undefined when it can. */
export function switchingOffUnavailable(): string | undefined {
  if (!isRoot) return 'only root can give a user namespace a uid map of two users, which these tests use to switch user namespaces off for one process';
  return userNamespacesUnavailable();
}

/**
 * Runs `commandLine` as the unprivileged user where user namespaces are switched off: inside a user namespace whose
 * `user.max_user_namespaces` is 0 (a per-namespace sysctl, so the rest of the machine is untouched). Root writes the
 * namespace's uid and gid maps (root and 65534, each to itself) as newuidmap would; the shell that waited for them
 * then execs again, which gives it root's capabilities in the namespace, sets the sysctl, and drops to 65534.
 */
export async function runWithoutUserNamespaces(commandLine: readonly string[], options: SpawnOptions = {}): Promise<Ran> {
  const child = spawn(
    'unshare',
    ['--user', '--', 'sh', '-c', 'echo ready; read go; exec "$@"', 'sh', 'sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', 'sh', ...AS_USER, ...commandLine],
    { ...options, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const done = collect(child);
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: string | Buffer) => {
      seen += String(chunk);
      if (!seen.startsWith('ready\n')) return;
      child.stdout?.off('data', onData);
      resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', () => reject(new Error(`unshare --user ended before its maps were written: ${seen}`)));
  });
  const map = `0 0 1\n${NOBODY} ${NOBODY} 1\n`;
  writeFileSync(`/proc/${child.pid}/uid_map`, map);
  writeFileSync(`/proc/${child.pid}/gid_map`, map);
  child.stdin?.write('go\n');
  const ran = await done;
  return { ...ran, stdout: ran.stdout.replace(/^ready\n/, '') };
}

function collect(child: ReturnType<typeof spawn>, input?: string): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  if (input !== undefined) child.stdin?.end(input);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}
