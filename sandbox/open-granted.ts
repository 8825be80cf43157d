/** @module sandbox/open-granted — opens a file for the file tools so that the path checked is the path actually opened, whatever links change in between. */
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { grantsHolding, notFound, type ResolvedPath, ToolDenied, ToolError } from './permissions.js';

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

/**
 * Opens `resolved.path` (from `resolveReadPath`/`resolveWritePath`) and checks that what was opened is inside
 * a grant. A link swapped into any folder of the path between the check and the open would otherwise redirect
 * it, so on Linux the parent folder is opened first, its real path is read back from `/proc/self/fd` (the
 * kernel's answer, not a second lookup) and checked, and the file is opened by name inside that very folder
 * (`/proc/self/fd/N/name`, the equivalent of `openat`) without following a link. Nothing outside a grant is
 * opened, created or truncated. Where `/proc` is missing the file is opened and then compared (device and
 * inode) with what its checked path holds, which narrows the race without closing it.
 * @param requested the path as the agent gave it, for messages
 * @returns the open handle; the caller closes it
 */
export async function openGranted(kind: 'read' | 'write', resolved: ResolvedPath, requested: string): Promise<FileHandle> {
  const parent = path.dirname(resolved.path);
  const name = path.basename(resolved.path);
  let folder: FileHandle;
  try {
    folder = await open(parent, O_RDONLY | O_DIRECTORY);
  } catch (error) {
    throw failed(kind, error, requested, resolved);
  }
  try {
    let actualParent: string | undefined;
    if (hasProcFd !== false) {
      try {
        actualParent = await readlink(`/proc/self/fd/${folder.fd}`);
        hasProcFd = path.isAbsolute(actualParent);
      } catch {
        hasProcFd = false;
      }
    }
    if (hasProcFd !== true || actualParent === undefined) return await openThenCompare(kind, resolved, requested);
    const actual = path.join(actualParent, name);
    if (grantsHolding(resolved.roots, actual).length === 0) throw new ToolDenied(kind, `${resolved.path} -> ${actual}`);
    try {
      return await open(`/proc/self/fd/${folder.fd}/${name}`, FLAGS[kind], 0o644);
    } catch (error) {
      throw failed(kind, error, requested, resolved);
    }
  } finally {
    await folder.close();
  }
}

/** Without `/proc`: open the checked path, then require that it still resolves to itself and holds the same file. */
async function openThenCompare(kind: 'read' | 'write', resolved: ResolvedPath, requested: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    // No O_TRUNC yet: a file reached through a swapped link must not lose its content before the comparison.
    handle = await open(resolved.path, kind === 'read' ? FLAGS.read : O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
  } catch (error) {
    throw failed(kind, error, requested, resolved);
  }
  try {
    const [opened, again, atPath] = await Promise.all([handle.stat(), realpath(resolved.path), stat(resolved.path)]);
    if (again !== resolved.path || opened.dev !== atPath.dev || opened.ino !== atPath.ino) throw new ToolDenied(kind, `${resolved.path} -> (changed while opening)`);
    if (kind === 'write') await handle.truncate(0);
    return handle;
  } catch (error) {
    await handle.close();
    throw error instanceof ToolDenied ? error : failed(kind, error, requested, resolved);
  }
}

/** A failed open: a link where the check saw none is a denial; a file gone since the check is not found. */
function failed(kind: 'read' | 'write', error: unknown, requested: string, resolved: ResolvedPath): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new ToolDenied(kind, `${resolved.path} -> (a link appeared)`);
  if (code === 'ENOENT' || code === 'ENOTDIR') return notFound(`No such ${kind === 'read' ? 'file' : 'folder'}: ${kind === 'read' ? requested : path.dirname(requested)}`, resolved.grants);
  if (typeof code === 'string') return new ToolError(code, `Cannot ${kind} ${requested}: ${code}`);
  return error;
}
