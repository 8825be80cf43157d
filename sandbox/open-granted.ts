/** @module sandbox/open-granted — opens a file for the file tools so that the path checked is the path actually opened, whatever links change in between. */
import { constants as fsConstants, readlinkSync } from 'node:fs';
import { type FileHandle, open, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileErrorCode, grantsHolding, notFound, type ResolvedPath, ToolDenied, ToolError } from './permissions.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = fsConstants;

/**
 * Flags of each kind of open. O_NOFOLLOW: the last component is never a link (one swapped in after the check
 * fails with ELOOP). O_NONBLOCK: a FIFO or a device does not hang the call; readTextFile then refuses what is
 * not a regular file.
 */
const FLAGS = {
  read: O_RDONLY | O_NOFOLLOW | O_NONBLOCK,
  write: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK,
} as const;

/** Whether `/proc/self/fd` names what a descriptor refers to (Linux); learnt on the first file call. */
let hasProcFd: boolean | undefined;

/** @internal Tests only: `false` takes the path of machines without `/proc`; `undefined` learns again. */
export function setProcFdForTests(value: boolean | undefined): void {
  hasProcFd = value;
}

/**
 * The real path of what `fd` refers to, as the kernel knows it; undefined without a usable `/proc`.
 * Synchronous on purpose: reading a `/proc/self/fd` link never touches a disk, and a thread-pool round trip
 * would cost more than the call.
 */
function pathOfFd(fd: number): string | undefined {
  if (hasProcFd === false) return undefined;
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    hasProcFd = path.isAbsolute(target);
    return hasProcFd ? target : undefined;
  } catch {
    hasProcFd = false;
    return undefined;
  }
}

/**
 * Opens `resolved.path` (from `resolveReadPath`/`resolveWritePath`) and checks that what was opened is inside a
 * grant, so a link swapped into any folder of the path between the check and the open cannot redirect it. The
 * path checked is the one the kernel reports for the open descriptor (`/proc/self/fd`), not a second lookup.
 * - read: the file is opened (O_NOFOLLOW, O_NONBLOCK: nothing is read, nothing blocks) and its real path checked
 *   before a byte is read.
 * - write: nothing outside a grant may even be created or truncated, so the parent folder is opened and checked
 *   first, and the file is opened by name inside that very folder (`/proc/self/fd/N/name`, the equivalent of
 *   `openat`) without following a link.
 * Where `/proc` is missing the file is opened and then compared (device and inode) with what its checked path
 * holds, which narrows the race without closing it.
 * @param requested the path as the agent gave it, for messages
 * @returns the open handle; the caller closes it
 */
export async function openGranted(kind: 'read' | 'write', resolved: ResolvedPath, requested: string): Promise<FileHandle> {
  if (kind === 'read') {
    const handle = await opened(open(resolved.path, FLAGS.read), kind, requested, resolved);
    const actual = pathOfFd(handle.fd);
    try {
      if (actual === undefined) await compareWithPath(handle, resolved, kind);
      else if (grantsHolding(resolved.roots, actual).length === 0) throw new ToolDenied(kind, `${resolved.path} -> ${actual}`);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return handle;
  }
  const folder = await opened(open(path.dirname(resolved.path), O_RDONLY | O_DIRECTORY), kind, requested, resolved);
  let isFolderOpen = true;
  try {
    const actualParent = pathOfFd(folder.fd);
    if (actualParent === undefined) {
      await folder.close();
      isFolderOpen = false;
      return await openThenCompare(resolved, requested);
    }
    const actual = path.join(actualParent, path.basename(resolved.path));
    if (grantsHolding(resolved.roots, actual).length === 0) throw new ToolDenied(kind, `${resolved.path} -> ${actual}`);
    return await opened(open(`/proc/self/fd/${folder.fd}/${path.basename(resolved.path)}`, FLAGS.write, 0o644), kind, requested, resolved);
  } finally {
    // The file, once open, no longer needs its folder; nobody waits for the close.
    if (isFolderOpen) folder.close().catch(() => undefined);
  }
}

/** Without `/proc`, for writes: open without truncating, compare, then truncate. */
async function openThenCompare(resolved: ResolvedPath, requested: string): Promise<FileHandle> {
  // No O_TRUNC yet: a file reached through a swapped link must not lose its content before the comparison.
  const handle = await opened(open(resolved.path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644), 'write', requested, resolved);
  try {
    await compareWithPath(handle, resolved, 'write');
    await handle.truncate(0);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Requires that the checked path still resolves to itself and holds the file that was opened. */
async function compareWithPath(handle: FileHandle, resolved: ResolvedPath, kind: 'read' | 'write'): Promise<void> {
  const same = await Promise.all([handle.stat(), realpath(resolved.path), stat(resolved.path)]).then(
    ([opened, again, atPath]) => again === resolved.path && opened.dev === atPath.dev && opened.ino === atPath.ino,
    () => false,
  );
  if (!same) throw new ToolDenied(kind, `${resolved.path} -> (changed while opening)`);
}

/** Awaits an open, turning its failure into what the agent should see. */
async function opened(opening: Promise<FileHandle>, kind: 'read' | 'write', requested: string, resolved: ResolvedPath): Promise<FileHandle> {
  try {
    return await opening;
  } catch (error) {
    throw failed(kind, error, requested, resolved);
  }
}

/** A failed open: a link where the check saw none is a denial; a file gone since the check is not found. */
function failed(kind: 'read' | 'write', error: unknown, requested: string, resolved: ResolvedPath): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new ToolDenied(kind, `${resolved.path} -> (a link appeared)`);
  if (code === 'ENOENT' || code === 'ENOTDIR') return notFound(`No such ${kind === 'read' ? 'file' : 'folder'}: ${kind === 'read' ? requested : path.dirname(requested)}`, resolved.grants);
  if (typeof code === 'string') return new ToolError(fileErrorCode(code), `Cannot ${kind} ${requested}: ${code}`);
  return error;
}
