// File grants cannot be redirected (security finding 5): a link at or under a grant's root, swapped in before or
// during a call, never lets readTextFile/writeTextFile reach outside the granted folder. Real files and links in a
// temp project, real sandbox hosts (process isolation; build dist first).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/index.js';
import { createProject, simpleTemplate } from '../helpers/project.js';
import { openGranted, setProcFdForTests } from '../../sandbox/open-granted.js';
import { resolveReadPath, resolveWritePath } from '../../sandbox/permissions.js';
import { makeHarness, makeSpec, type Harness } from '../sandbox/helpers.js';
import { captureStreams } from '../helpers/streams.js';

const AGENT = `export default async (input, ctx) => {
  const results = [];
  for (const op of input.ops) {
    const seen = {};
    for (let i = 0; i < (op.times ?? 1); i++) {
      let result;
      try {
        result = op.op === 'read' ? { ok: true, value: await ctx.readTextFile(op.path) } : (await ctx.writeTextFile(op.path, op.data), { ok: true });
      } catch (e) {
        result = { ok: false, code: e.code, message: e.message };
      }
      if (!op.times) results.push(result);
      else { const key = result.ok ? 'ok:' + (result.value ?? '') : result.code; seen[key] = (seen[key] ?? 0) + 1; }
    }
    if (op.times) results.push(seen);
  }
  return results;
};`;

interface Result {
  ok: boolean;
  value?: string;
  code?: string;
  message?: string;
}

let base: string;
let dir: string;
let outside: string;
let harness: Harness;

function spec(permissions: { read?: string[]; write?: string[] }) {
  return makeSpec({ name: 'grants', source: AGENT, dir, permissions, limits: { timeoutMs: 60_000, cpuMs: 60_000, outputKb: 1024 } });
}

async function ops(permissions: { read?: string[]; write?: string[] }, list: Array<Record<string, unknown>>): Promise<Array<Result & Record<string, number>>> {
  const result = await harness.run(spec(permissions), { ops: list });
  if (!result.ok) throw new Error(`run failed: ${result.error.code} ${result.error.message}`);
  return result.output as Array<Result & Record<string, number>>;
}

const read = (p: string) => ({ op: 'read', path: p });
const write = (p: string, data = 'written by the agent') => ({ op: 'write', path: p, data });

/** Replaces whatever is at `relative` (inside the template folder) by a link to `target`. */
function link(relative: string, target: string): void {
  const at = path.join(dir, relative);
  rmSync(at, { recursive: true, force: true });
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(target, at);
}

function folder(relative: string, files: Record<string, string> = {}): void {
  const at = path.join(dir, relative);
  rmSync(at, { recursive: true, force: true });
  mkdirSync(at, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(at, name), content);
}

beforeAll(() => {
  base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'af-grants-')));
  dir = path.join(base, 'project', 'agents', 'grants');
  outside = path.join(base, 'outside');
  mkdirSync(dir, { recursive: true });
  mkdirSync(outside);
  mkdirSync(path.join(base, 'sibling', 'agents', 'other', 'data'), { recursive: true });
  writeFileSync(path.join(base, 'sibling', 'agents', 'other', 'data', 'secret.txt'), 'SIBLING SECRET');
  harness = makeHarness();
});
afterAll(async () => {
  await harness.sandbox.close();
  rmSync(base, { recursive: true, force: true });
});
beforeEach(() => {
  rmSync(outside, { recursive: true, force: true });
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'secret.txt'), 'SECRET');
  writeFileSync(path.join(outside, 'victim.txt'), 'untouched');
});

describe('a grant root replaced by a link', () => {
  it('a read grant whose folder is a link to /etc reads nothing there, and the denial says why', async () => {
    link('data', '/etc');
    const [result] = await ops({ read: ['./data'] }, [read('data/passwd')]);
    expect(result).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(result?.message).toContain(`permissions.read grants "./data", but it leads through a symlink to "/etc", outside the template folder ${JSON.stringify(dir)}, not to the folder it names`);
    expect(result?.message).toContain('a grant may not be redirected by a link');
    expect(harness.denials.at(-1)).toMatchObject({ template: 'grants', permission: 'read' });
  });

  it('a write grant whose folder is a link writes nothing outside the project', async () => {
    link('out', outside);
    const [over, created] = await ops({ write: ['./out'] }, [write('out/victim.txt'), write('out/new.txt')]);
    expect(over).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(over?.message).toContain('permissions.write grants "./out", but it leads through a symlink');
    expect(created).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
    expect(existsSync(path.join(outside, 'new.txt'))).toBe(false);
  });

  it('a grant linked to a sibling project is refused', async () => {
    link('data', path.join(base, 'sibling', 'agents', 'other', 'data'));
    const [result] = await ops({ read: ['./data'] }, [read('data/secret.txt')]);
    expect(result).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(result?.message).toContain('outside the template folder');
  });

  it('a grant that passes through a linked parent folder is refused too', async () => {
    link('nest', outside);
    writeFileSync(path.join(outside, 'inner.txt'), 'NESTED SECRET');
    const [result] = await ops({ read: ['./nest'] }, [read('nest/inner.txt')]);
    expect(result).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    mkdirSync(path.join(outside, 'gen'));
    const [written] = await ops({ write: ['./nest/gen'] }, [write('nest/gen/x.txt')]);
    expect(written).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(existsSync(path.join(outside, 'gen', 'x.txt'))).toBe(false);
  });

  it('a grant linked to another folder of the template (its own code, say) is refused too; links inside a grant work', async () => {
    folder('fixtures', { 'a.txt': 'inside' });
    link('data', './fixtures');
    link('out', '.');
    folder('real', { 'b.txt': 'real' });
    link('real/alias.txt', 'b.txt');
    const [readResult, writeResult, inside] = await ops({ read: ['./data', './real'], write: ['./out'] }, [read('data/a.txt'), write('out/main.ts', 'export default () => "replaced";'), read('real/alias.txt')]);
    expect(readResult).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(readResult?.message).toContain(`it leads through a symlink to ${JSON.stringify(path.join(dir, 'fixtures'))}, not to the folder it names`);
    expect(writeResult).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(existsSync(path.join(dir, 'main.ts'))).toBe(false);
    expect(inside).toEqual({ ok: true, value: 'real' });
  });
});

describe('the reproduction: a signed template in prod, through af run', () => {
  it('reads no /etc/passwd and writes nothing outside the project once data and out are links', async () => {
    const project = createProject(
      simpleTemplate(
        'reader',
        { permissions: { read: ['./data'], write: ['./out'] } },
        `export default async (input, ctx) => {
  const out = {};
  try { out.read = await ctx.readTextFile('data/passwd'); } catch (e) { out.read = e.code + ' ' + e.message; }
  try { await ctx.writeTextFile('out/victim.txt', 'pwned'); out.write = 'written'; } catch (e) { out.write = e.code + ' ' + e.message; }
  return out;
};
`,
      ),
    );
    try {
      const af = async (...args: string[]) => {
        const { streams, printed } = captureStreams({ cwd: project.root });
        const status = await runCli(args, streams);
        return { status, stdout: printed.stdout };
      };
      expect((await af('keys', 'init')).status).toBe(0);
      expect((await af('sign', 'reader')).status).toBe(0);
      // Neither folder is covered by the signature: swapping them for links keeps it valid.
      symlinkSync('/etc', path.join(project.agentsDir, 'reader', 'data'));
      symlinkSync(outside, path.join(project.agentsDir, 'reader', 'out'));
      const ran = await af('run', 'reader', '--env', 'prod', '--json');
      expect(ran.status).toBe(0);
      const { output } = JSON.parse(ran.stdout) as { output: { read: string; write: string } };
      expect(output.read).toMatch(/^E_PERMISSION_DENIED Requires read access to .*: permissions\.read grants "\.\/data", but it leads through a symlink to "\/etc"/);
      expect(output.write).toMatch(/^E_PERMISSION_DENIED .*permissions\.write grants "\.\/out", but it leads through a symlink/);
      expect(readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
    } finally {
      project.remove();
    }
  });
});

describe('other payloads of the class', () => {
  beforeEach(() => {
    folder('data', { 'a.txt': 'inside' });
    folder('out');
  });

  it('.. segments and absolute requests leave no grant', async () => {
    const results = await ops({ read: ['./data'], write: ['./out'] }, [
      read('data/../../../../outside/secret.txt'),
      read(path.join(outside, 'secret.txt')),
      read('/etc/passwd'),
      write('out/../../../../outside/victim.txt'),
      write(path.join(outside, 'victim.txt')),
      read(path.join(dir, 'data', 'a.txt')),
    ]);
    expect(results.slice(0, 5).map((r) => r.code)).toEqual(Array(5).fill('E_PERMISSION_DENIED'));
    expect(results[5]).toEqual({ ok: true, value: 'inside' });
    expect(readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
  });

  it('no grant, not even of /, reaches /proc: the serving process\'s environment, memory and files stay its own', async () => {
    // File tools are served by the calling process: /proc/self is that process, with every secret the env allowlist
    // keeps back. Every spelling of it, and a link to it inside a grant, is refused; so is any other process.
    link('data/me', '/proc/self');
    const results = await ops({ read: ['/'], write: ['/'] }, [
      read('/proc/self/environ'),
      read('/proc/thread-self/environ'),
      read(`/proc/${process.pid}/environ`),
      read(`/proc/${process.pid}/root/proc/self/environ`),
      read('/proc//self/./environ'),
      read('data/me/environ'),
      read(`/proc/${process.ppid}/environ`),
      read('/proc/self/maps'),
      write('/proc/self/comm', 'renamed'),
      read(path.join(dir, 'data', 'a.txt')),
    ]);
    expect(results.slice(0, 9).map((r) => r.code)).toEqual(Array(9).fill('E_PERMISSION_DENIED'));
    expect(JSON.stringify(results)).not.toContain('PATH=');
    expect(readFileSync('/proc/self/comm', 'utf8')).not.toContain('renamed');
    expect(results[9]).toEqual({ ok: true, value: 'inside' });
  });

  it('a linked folder inside a grant cannot lead out, for reads and writes', async () => {
    link('data/sub', outside);
    link('out/sub', outside);
    link('out/file.txt', path.join(outside, 'victim.txt'));
    const results = await ops({ read: ['./data'], write: ['./out'] }, [read('data/sub/secret.txt'), write('out/sub/victim.txt'), write('out/sub/new.txt'), write('out/file.txt')]);
    expect(results.map((r) => r.code)).toEqual(Array(4).fill('E_PERMISSION_DENIED'));
    expect(readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
    expect(existsSync(path.join(outside, 'new.txt'))).toBe(false);
  });

  it('a dangling link reads as missing and is never written through', async () => {
    link('data/dangle.txt', path.join(outside, 'absent.txt'));
    link('out/dangle.txt', path.join(outside, 'absent.txt'));
    const [readResult, writeResult] = await ops({ read: ['./data'], write: ['./out'] }, [read('data/dangle.txt'), write('out/dangle.txt')]);
    expect(readResult).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(writeResult).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(writeResult?.message).toContain('dangling link');
    expect(existsSync(path.join(outside, 'absent.txt'))).toBe(false);
  });

  it('a grant whose folder does not exist yet admits nothing until it is a real folder inside the template', async () => {
    rmSync(path.join(dir, 'gen'), { recursive: true, force: true });
    const [missing] = await ops({ write: ['./gen/out'] }, [write('gen/out/x.txt')]);
    expect(missing).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(missing?.message).toContain('No such folder: gen/out');
    mkdirSync(path.join(outside, 'out'));
    link('gen', outside);
    const [redirected] = await ops({ write: ['./gen/out'] }, [write('gen/out/x.txt')]);
    expect(redirected).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(existsSync(path.join(outside, 'out', 'x.txt'))).toBe(false);
    rmSync(path.join(dir, 'gen'));
    folder('gen/out');
    const [created] = await ops({ write: ['./gen/out'] }, [write('gen/out/x.txt', 'fine')]);
    expect(created).toEqual({ ok: true });
    expect(readFileSync(path.join(dir, 'gen', 'out', 'x.txt'), 'utf8')).toBe('fine');
  });

  it('an absolute grant may sit below linked folders of the machine, but may not itself be a link', async () => {
    mkdirSync(path.join(base, 'machine', 'shared'), { recursive: true });
    writeFileSync(path.join(base, 'machine', 'shared', 's.txt'), 'shared');
    rmSync(path.join(base, 'layout'), { force: true });
    symlinkSync(path.join(base, 'machine'), path.join(base, 'layout'));
    rmSync(path.join(base, 'shared-link'), { force: true });
    symlinkSync(outside, path.join(base, 'shared-link'));
    const [viaLayout] = await ops({ read: [path.join(base, 'layout', 'shared')] }, [read(path.join(base, 'layout', 'shared', 's.txt'))]);
    expect(viaLayout).toEqual({ ok: true, value: 'shared' });
    const [viaLink] = await ops({ read: [path.join(base, 'shared-link')] }, [read(path.join(base, 'shared-link', 'secret.txt'))]);
    expect(viaLink).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(viaLink?.message).toContain(`it leads through a symlink to ${JSON.stringify(outside)}, not to the folder it names`);
  });

  it('NUL bytes and overlong paths are refused as bad arguments', async () => {
    const results = await ops({ read: ['./data'], write: ['./out'] }, [
      read('data/a.txt\u0000/../../../../outside/secret.txt'),
      write('out/x.txt\u0000'),
      read(`data/${'x/'.repeat(3000)}a.txt`),
      read(`data/${'x'.repeat(300)}.txt`),
    ]);
    expect(results[0]).toMatchObject({ ok: false, code: 'E_USAGE', message: 'readTextFile: the path contains a NUL byte' });
    expect(results[1]).toMatchObject({ ok: false, code: 'E_USAGE', message: 'writeTextFile: the path contains a NUL byte' });
    expect(results[2]).toMatchObject({ ok: false, code: 'E_USAGE', message: 'readTextFile: the path is longer than 4096 bytes' });
    expect(results[3]).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(existsSync(path.join(dir, 'out', 'x.txt'))).toBe(false);
  });

  it('a FIFO inside a grant does not hang the read', async () => {
    const fifo = path.join(dir, 'data', 'pipe');
    const made = spawn('mkfifo', [fifo]);
    await new Promise((resolve) => made.on('exit', resolve));
    const [result] = await ops({ read: ['./data'] }, [read('data/pipe')]);
    expect(result).toMatchObject({ ok: false, code: 'EISDIR', message: 'Not a file: data/pipe' });
  });
});

describe('a link swapped in between the check and the open', () => {
  // Deterministic: the swap happens exactly between resolve (the check) and openGranted (the open).
  describe.each([
    ['with /proc/self/fd', undefined],
    ['without /proc (device and inode compared)', false],
  ] as const)('%s', (_label, procFd) => {
    beforeEach(() => setProcFdForTests(procFd));
    afterAll(() => setProcFdForTests(undefined));

    it('a read checked inside opens nothing outside', async () => {
      folder('data');
      folder('data/sub', { 'secret.txt': 'inside' });
      const checked = await resolveReadPath(dir, ['./data'], 'data/sub/secret.txt');
      link('data/sub', outside);
      await expect(openGranted('read', checked, 'data/sub/secret.txt')).rejects.toMatchObject({ name: 'NotCapable', permission: 'read' });
    });

    it('a write checked inside creates or truncates nothing outside', async () => {
      folder('out');
      folder('out/sub');
      const existing = await resolveWritePath(dir, ['./out'], 'out/sub/victim.txt');
      const created = await resolveWritePath(dir, ['./out'], 'out/sub/new.txt');
      link('out/sub', outside);
      await expect(openGranted('write', existing, 'out/sub/victim.txt')).rejects.toMatchObject({ name: 'NotCapable', permission: 'write' });
      await expect(openGranted('write', created, 'out/sub/new.txt')).rejects.toMatchObject({ name: 'NotCapable', permission: 'write' });
      expect(readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
      if (procFd === undefined) expect(existsSync(path.join(outside, 'new.txt'))).toBe(false);
    });

    it('a file swapped for a link after the check is not followed', async () => {
      folder('data', { 'a.txt': 'inside' });
      folder('out', { 'a.txt': 'inside' });
      const read = await resolveReadPath(dir, ['./data'], 'data/a.txt');
      const written = await resolveWritePath(dir, ['./out'], 'out/a.txt');
      link('data/a.txt', path.join(outside, 'secret.txt'));
      link('out/a.txt', path.join(outside, 'victim.txt'));
      await expect(openGranted('read', read, 'data/a.txt')).rejects.toMatchObject({ name: 'NotCapable' });
      await expect(openGranted('write', written, 'out/a.txt')).rejects.toMatchObject({ name: 'NotCapable' });
      expect(readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
    });
  });

  let swapper: ChildProcess | undefined;
  afterAll(() => swapper?.kill());

  /** A separate process that keeps replacing `folderPath` by a link to `target` and back, as fast as it can. */
  function startSwapping(folderPath: string, target: string): ChildProcess {
    const script = `
      const fs = require('node:fs');
      const [folder, target] = process.argv.slice(1);
      const parked = folder + '.parked';
      for (;;) {
        try {
          fs.renameSync(folder, parked);
          fs.symlinkSync(target, folder);
          fs.unlinkSync(folder);
          fs.renameSync(parked, folder);
        } catch {}
      }`;
    return spawn(process.execPath, ['-e', script, folderPath, target], { stdio: 'ignore' });
  }

  it('never reads or writes the file a swapped link points to', async () => {
    folder('data');
    folder('data/sub', { 'file.txt': 'inside' });
    folder('out');
    folder('out/sub');
    swapper = startSwapping(path.join(dir, 'data', 'sub'), outside);
    const writer = startSwapping(path.join(dir, 'out', 'sub'), outside);
    try {
      const [reads, writes] = await ops({ read: ['./data'], write: ['./out'] }, [
        { ...read('data/sub/secret.txt'), times: 3000 },
        { ...write('out/sub/victim.txt', 'OVERWRITTEN'), times: 3000 },
      ]);
      // Some calls pass (the folder was real), some are denied or miss the file; none reaches outside.
      expect(reads?.['ok:SECRET']).toBeUndefined();
      expect(Object.keys(reads ?? {}).every((key) => ['E_PERMISSION_DENIED', 'ENOENT'].includes(key))).toBe(true);
      expect(writes).toBeDefined();
      expect(readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
    } finally {
      swapper.kill();
      writer.kill();
    }
  });
});
