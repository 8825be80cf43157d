// `af run` handed to the project's running `af serve` (cli/handoff-client, cli/handoff-server), with real processes:
// a server started as `node bin/af.js serve`, clients started as `node bin/af.js run`, the Unix socket and .af/serve.json
// on disk. What a user relies on: the same output and exit status as a run here, the run recorded by the server, a
// run here when the server is gone or belongs to another project, and no run for a caller without the token.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const AF = path.resolve(import.meta.dirname, '../../bin/af.js');
const ENV = { PATH: process.env.PATH ?? '', NO_COLOR: '1' };

interface Served {
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

async function serve(root: string): Promise<Served> {
  const child = spawn(process.execPath, [AF, 'serve', '--port', '0', '--json'], { cwd: root, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('{"url"')) resolve();
    });
    void exited.then(() => reject(new Error(`af serve exited before listening:\n${stderr}`)));
  });
  return {
    child,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `af …` as its own process, stdin at end of input (`</dev/null`): its exit status and what it printed. */
function af(root: string, args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AF, ...args], { cwd: root, env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

/** The lines a server logs for runs handed to it. */
const handedOver = (server: Served) => server.stderr().split('\n').filter((line) => line.includes('(handed over by pid'));
/** Timings differ from run to run; everything else must not. */
const untimed = (text: string) => text.replace(/\d+\.\d+ ms/g, 'N ms');

let project: TempProject;
let other: TempProject;
let server: Served;
let otherServer: Served;

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate('echo', { description: 'returns its input' }),
    ...simpleTemplate('which', {}, "export default () => ({ project: 'A', version: 1 });\n"),
    ...simpleTemplate('fails', {}, "export default () => { throw new Error('no luck'); };\n"),
  });
  other = createProject(simpleTemplate('which', {}, "export default () => ({ project: 'B' });\n"));
  [server, otherServer] = await Promise.all([serve(project.root), serve(other.root)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([server?.stop(), otherServer?.stop()]);
  project?.remove();
  other?.remove();
});

describe('af run with an af serve running for the project', () => {
  it('runs through the server: the run is the server\'s (its log, its store), and the output is that of a run here', async () => {
    const file = path.join(project.root, '.af/serve.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const { socket, pid } = JSON.parse(readFileSync(file, 'utf8'));
    expect(pid).toBe(server.child.pid);
    expect(statSync(socket).mode & 0o777).toBe(0o600);

    const json = await af(project.root, ['run', 'echo', '--input', '{"n":1}', '--json']);
    expect(json.status).toBe(0);
    const line = JSON.parse(json.stdout.trim());
    expect(line.output).toEqual({ n: 1 });
    expect(handedOver(server).some((entry) => entry.includes(`run=${line.runId}`))).toBe(true);
    // In the store (the server's writer), as any run.
    const shown = await af(project.root, ['runs', 'show', line.runId, '--json'], { AF_NO_HANDOFF: '1' });
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain(line.runId);

    const before = handedOver(server).length;
    const through = await af(project.root, ['run', 'echo', '--input', '{"n":2}']);
    const here = await af(project.root, ['run', 'echo', '--input', '{"n":2}'], { AF_NO_HANDOFF: '1' });
    expect(handedOver(server).length).toBe(before + 1);
    expect(through.status).toBe(0);
    expect(through.stdout).toBe(here.stdout);
    expect(untimed(through.stderr)).toBe(untimed(here.stderr));

    // A failing agent: same message, same exit status.
    const failedThrough = await af(project.root, ['run', 'fails']);
    const failedHere = await af(project.root, ['run', 'fails'], { AF_NO_HANDOFF: '1' });
    expect(failedThrough.status).not.toBe(0);
    expect(failedThrough.status).toBe(failedHere.status);
    expect(untimed(failedThrough.stderr)).toBe(untimed(failedHere.stderr));
    expect(handedOver(server).length).toBe(before + 2);
  }, 120_000);

  it('runs the code on disk: an edit saved just before is what runs through the server', async () => {
    const first = await af(project.root, ['run', 'which', '--json']);
    expect(JSON.parse(first.stdout.trim()).output).toEqual({ project: 'A', version: 1 });
    const before = handedOver(server).length;
    writeFileSync(path.join(project.root, 'agents/which/main.ts'), "export default () => ({ project: 'A', version: 2 });\n");
    const edited = await af(project.root, ['run', 'which', '--json']);
    expect(JSON.parse(edited.stdout.trim()).output).toEqual({ project: 'A', version: 2 });
    expect(handedOver(server).length).toBe(before + 1);
  }, 120_000);

  it('runs here when serve.json names a server that is gone (a stale file and socket)', async () => {
    const stale = createProject(simpleTemplate('echo'));
    try {
      const gone = spawnSync(process.execPath, ['-e', '0']).pid;
      // A server killed without cleaning up: its file, its socket path (now nothing listens there).
      const home = path.join(stale.root, '.af');
      mkdirSync(home, { recursive: true });
      const record = { v: 1, pid: gone, socket: path.join(home, 'serve-1.sock'), token: 'x', root: stale.root, home, env: 'dev', store: path.join(home, 'factory.db') };
      writeFileSync(path.join(home, 'serve.json'), JSON.stringify(record));
      const ran = await af(stale.root, ['run', 'echo', '--input', '{"ok":true}', '--json']);
      expect(ran.status).toBe(0);
      expect(JSON.parse(ran.stdout.trim()).output).toEqual({ ok: true });
      // A live pid (this test's) whose socket is not there: also here.
      writeFileSync(path.join(home, 'serve.json'), JSON.stringify({ ...record, pid: process.pid }));
      const again = await af(stale.root, ['run', 'echo', '--input', '{"ok":2}', '--json']);
      expect(again.status).toBe(0);
      expect(JSON.parse(again.stdout.trim()).output).toEqual({ ok: 2 });
    } finally {
      stale.remove();
    }
  }, 120_000);

  it('never hands a run to the server of another project', async () => {
    // Another project's serve.json (its socket, its token) found in this project's state folder.
    const mine = path.join(project.root, '.af/serve.json');
    const saved = readFileSync(mine, 'utf8');
    const before = handedOver(otherServer).length;
    try {
      copyFileSync(path.join(other.root, '.af/serve.json'), mine);
      const ran = await af(project.root, ['run', 'which', '--json']);
      expect(ran.status).toBe(0);
      expect(JSON.parse(ran.stdout.trim()).output.project).toBe('A');
    } finally {
      writeFileSync(mine, saved);
    }
    // And the server itself refuses a caller of another project holding its token: the caller runs it.
    const theirs = JSON.parse(readFileSync(path.join(other.root, '.af/serve.json'), 'utf8'));
    const answer = await ask(theirs.socket, { token: theirs.token, pid: 1, argv: ['run', 'which', '--json'], cwd: project.root, env: ENV, stdin: null, tty: { stdout: false, stderr: false } });
    expect(answer.t).toBe('declined');
    expect(handedOver(otherServer).length).toBe(before);
  }, 120_000);

  it('refuses a caller without the token: nothing runs', async () => {
    const { socket, token } = JSON.parse(readFileSync(path.join(project.root, '.af/serve.json'), 'utf8'));
    const before = handedOver(server).length;
    const request = { pid: 1, argv: ['run', 'echo', '--json'], cwd: project.root, env: ENV, stdin: null, tty: { stdout: false, stderr: false } };
    for (const forged of [undefined, '', 'x'.repeat(token.length), `${token}x`]) {
      const answer = await ask(socket, { ...request, token: forged });
      expect(answer).toMatchObject({ t: 'refused' });
    }
    expect(handedOver(server).length).toBe(before);
    // The right token runs it, so the refusals above were the token's.
    expect(await ask(socket, { ...request, token })).toMatchObject({ t: 'done', status: 0 });
  }, 60_000);

  it('runs here when the server refuses the caller (a serve.json whose token is not the server\'s)', async () => {
    const mine = path.join(project.root, '.af/serve.json');
    const saved = readFileSync(mine, 'utf8');
    const before = handedOver(server).length;
    try {
      writeFileSync(mine, JSON.stringify({ ...JSON.parse(saved), token: 'not-the-token' }));
      const ran = await af(project.root, ['run', 'echo', '--input', '{"refused":1}', '--json']);
      expect(ran.status).toBe(0);
      expect(JSON.parse(ran.stdout.trim()).output).toEqual({ refused: 1 });
    } finally {
      writeFileSync(mine, saved);
    }
    expect(handedOver(server).length).toBe(before);
  }, 120_000);

  it('runs here a command line the server does not take (a flag given twice), with the same result', async () => {
    const before = handedOver(server).length;
    const ran = await af(project.root, ['run', 'echo', '--input', '{"twice":1}', '--json', '--json']);
    expect(ran.status).toBe(0);
    expect(JSON.parse(ran.stdout.trim()).output).toEqual({ twice: 1 });
    expect(handedOver(server).length).toBe(before);
  }, 120_000);

  it('reports a server that goes away before answering, and does not run it again here', async () => {
    const mine = path.join(project.root, '.af/serve.json');
    const saved = readFileSync(mine, 'utf8');
    // A "server" (this test, a live pid) that reads the request and hangs up without an answer.
    const socket = path.join(project.root, '.af/gone.sock');
    const requests: string[] = [];
    const gone = net.createServer({ allowHalfOpen: true }, (connection) => {
      connection.setEncoding('utf8').on('data', (chunk: string) => requests.push(chunk));
      connection.on('end', () => connection.destroy());
    });
    await new Promise<void>((resolve) => gone.listen(socket, resolve));
    chmodSync(socket, 0o600); // as af serve makes its own
    const before = handedOver(server).length;
    try {
      writeFileSync(mine, JSON.stringify({ ...JSON.parse(saved), pid: process.pid, socket, token: 't' }));
      const ran = await af(project.root, ['run', 'echo', '--input', '{"lost":1}', '--json']);
      expect(ran.status).toBe(5);
      expect(ran.stdout).toBe('');
      expect(ran.stderr).toContain(`the af serve (pid ${process.pid}) this run was handed to stopped before answering`);
      expect(JSON.parse(requests.join('')).argv).toEqual(['run', 'echo', '--input', '{"lost":1}', '--json']);
    } finally {
      writeFileSync(mine, saved);
      await new Promise((resolve) => gone.close(resolve));
    }
    expect(handedOver(server).length).toBe(before);
  }, 120_000);

  it('sends nothing to a socket or through a serve.json that is not this user\'s alone: the run happens here', async () => {
    const mine = path.join(project.root, '.af/serve.json');
    const saved = readFileSync(mine, 'utf8');
    // A decoy "server" that would receive the caller's environment and stdin: it must never be connected to.
    const decoy = path.join(project.root, '.af/decoy.sock');
    const connections: string[] = [];
    const listener = net.createServer((connection) => {
      connections.push('connected');
      connection.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(decoy, resolve));
    const pointAtDecoy = () => writeFileSync(mine, JSON.stringify({ ...JSON.parse(saved), pid: process.pid, socket: decoy }), { mode: 0o600 });
    const cases: Array<{ name: string; arrange: () => void; reason: string }> = [
      { name: 'a socket open to other users', arrange: () => (pointAtDecoy(), chmodSync(decoy, 0o666)), reason: `${decoy} is open to other users (mode 666, not 600)` },
      { name: 'a serve.json open to other users', arrange: () => (chmodSync(decoy, 0o600), pointAtDecoy(), chmodSync(mine, 0o644)), reason: `${mine} is open to other users (mode 644, not 600)` },
      {
        name: 'a serve.json that is a symlink',
        arrange: () => {
          chmodSync(decoy, 0o600);
          const elsewhere = path.join(project.root, 'planted-serve.json');
          writeFileSync(elsewhere, JSON.stringify({ ...JSON.parse(saved), pid: process.pid, socket: decoy }), { mode: 0o600 });
          rmSync(mine, { force: true });
          symlinkSync(elsewhere, mine);
        },
        reason: `${mine} is not a regular file`,
      },
    ];
    if (process.getuid?.() === 0) {
      cases.push({ name: "another user's socket", arrange: () => (pointAtDecoy(), chmodSync(decoy, 0o600), chownSync(decoy, 65534, 65534)), reason: `${decoy} belongs to another user (uid 65534)` });
    }
    const before = handedOver(server).length;
    try {
      for (const { name, arrange, reason } of cases) {
        arrange();
        const ran = await af(project.root, ['run', 'echo', '--input', '{"here":1}', '--json'], { AF_DEBUG: '1', SECRET_TOKEN: 'do-not-send' });
        expect(ran.status, name).toBe(0);
        expect(JSON.parse(ran.stdout.trim()).output, name).toEqual({ here: 1 });
        expect(ran.stderr, name).toContain(`af: running here, not through af serve: ${reason}`);
        expect(connections, name).toEqual([]);
        rmSync(mine, { force: true });
      }
    } finally {
      rmSync(mine, { force: true });
      writeFileSync(mine, saved, { mode: 0o600 });
      chmodSync(mine, 0o600);
      await new Promise((resolve) => listener.close(resolve));
    }
    expect(handedOver(server).length).toBe(before);
    // The real server's file and socket still hand runs over.
    const through = await af(project.root, ['run', 'echo', '--input', '{}']);
    expect(through.status).toBe(0);
    expect(handedOver(server).length).toBe(before + 1);
  }, 120_000);

  it('AF_STARTUP_TRACE=1 marks the start-up on stderr: the hand-off client alone for a run handed over; the CLI and its host for a run here', async () => {
    const marks = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('af-trace ')).map((line) => line.split(' ').slice(2).join(' '));
    const through = await af(project.root, ['run', 'echo', '--input', '{}'], { AF_STARTUP_TRACE: '1' });
    expect(through.status).toBe(0);
    expect(through.stdout).toBe('{}\n');
    // Handed over: nothing of the CLI but the client was loaded, no host forked.
    expect(marks(through.stderr)).toEqual(['cli: process started', 'cli: first line', 'cli: answer from af serve', 'cli: exit']);

    const here = await af(project.root, ['run', 'echo', '--input', '{}'], { AF_STARTUP_TRACE: '1', AF_NO_HANDOFF: '1' });
    expect(here.status).toBe(0);
    expect(here.stdout).toBe('{}\n');
    const seen = marks(here.stderr);
    for (const mark of ['cli: first line', 'cli: host forked', 'cli: command tree loaded', 'cli: factory open', 'host: node started', 'host: modules loaded', 'host: isolated-vm loaded', 'host: result sent', 'cli: run settled', 'cli: factory closed', 'cli: exit']) expect(seen).toContain(mark);
    // One host, forked by bin/af.js before the CLI loaded, and adopted by the CLI's supervisor (not forked again).
    expect(seen.filter((mark) => mark === 'cli: host forked')).toHaveLength(1);
    expect(seen.indexOf('cli: host forked')).toBeLessThan(seen.indexOf('cli: command tree loaded'));
    // One clock: the host's marks fall between the fork and the result the CLI received.
    const at = (mark: string) => Number(here.stderr.split('\n').find((line) => line.endsWith(` ${mark}`))?.split(' ')[1]);
    expect(at('host: node started')).toBeGreaterThan(at('cli: host forked'));
    expect(at('host: result sent')).toBeLessThan(at('cli: exit'));

    // Off by default.
    const quiet = await af(project.root, ['run', 'echo', '--input', '{}'], { AF_NO_HANDOFF: '1' });
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toContain('af-trace');
  }, 120_000);

  it('removes its file and socket when it stops', async () => {
    const extra = createProject(simpleTemplate('echo'));
    try {
      const served = await serve(extra.root);
      const file = path.join(extra.root, '.af/serve.json');
      const { socket } = JSON.parse(readFileSync(file, 'utf8'));
      await served.stop();
      expect(existsSync(file)).toBe(false);
      expect(existsSync(socket)).toBe(false);
    } finally {
      extra.remove();
    }
  }, 120_000);
});

function ask(socket: string, request: Record<string, unknown>): Promise<{ t: string; status?: number }> {
  return new Promise((resolve, reject) => {
    const connection = net.createConnection(socket);
    let text = '';
    connection.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    connection.once('error', reject);
    connection.once('close', () => resolve(JSON.parse(text)));
    connection.end(`${JSON.stringify(request)}\n`);
  });
}
