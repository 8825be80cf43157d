// Runs you can debug: short ids that tell runs apart, `af runs show`, opt-in capture of failed runs (bounded, pruned),
// `af runs replay` and `af runs --follow`. Real templates, real sandbox hosts, a real SQLite file, the real CLI.
import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFactory } from '../../runtime/index.js';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const REPO = path.resolve(import.meta.dirname, '../..');

const FLAKY = `export default async (input, ctx) => {
  ctx.log.info('checking', { n: input.n });
  await ctx.kv.set('last', input.n);
  try { await ctx.fetch('https://not-granted.example/'); } catch {}
  if (input.n > 10) throw new Error('n is too big: ' + input.n);
  return { n: input.n };
};
`;

let project: TempProject;
const ids: Record<string, string> = {};

function db(): Database.Database {
  return new Database(path.join(project.root, '.af', 'factory.db'), { readonly: true });
}

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate('flaky', { permissions: { kv: true }, debug: { captureFailures: true, maxCaptureKb: 1 } }, FLAKY),
    ...simpleTemplate('private', { permissions: { kv: true } }, FLAKY),
    ...simpleTemplate('fussy', { output: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, debug: { captureFailures: true } }, 'export default (input) => ({ got: input });\n'),
    ...simpleTemplate('parent', { permissions: { spawn: ['flaky'] } }, "export default (input, ctx) => ctx.spawn('flaky', input);\n"),
    ...simpleTemplate('hostile', { debug: { captureFailures: true } }, "export default (input, ctx) => { ctx.log.info('\\u001b]0;pwned\\u0007', { k: '\\u001b[2J' }); throw new Error('\\u001b[2J\\r\\nok'); };\n"),
  });
  // Several runs from one factory, in one burst: their ids share the timestamp start.
  const factory = await createFactory({ root: project.root, hosts: 1 });
  try {
    for (let i = 0; i < 3; i++) ids[`ok${i}`] = (await factory.runSettled('flaky', { n: i })).runId;
    ids.failed = (await factory.runSettled('flaky', { n: 11, secret: 'hunter2' })).runId;
    ids.big = (await factory.runSettled('flaky', { n: 12, pad: 'x'.repeat(5000) })).runId;
    ids.private = (await factory.runSettled('private', { n: 13, secret: 'hunter2' })).runId;
    ids.fussy = (await factory.runSettled('fussy', { a: 1 })).runId;
    ids.parent = (await factory.runSettled('parent', { n: 14 })).runId;
    ids.hostile = (await factory.runSettled('hostile', { text: '\u001b[31mred\u009b' })).runId;
  } finally {
    await factory.close();
  }
}, 60_000);
afterAll(() => project.remove());

describe('af runs: ids unique at a glance', () => {
  it('shows the random end of each id, which differs between runs started together', async () => {
    const result = await runAf(project.root, ['runs', '--template', 'flaky']);
    expect(result.status).toBe(0);
    const shown = result.stdout.trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/).at(-1));
    const full = JSON.parse((await runAf(project.root, ['runs', '--template', 'flaky', '--json'])).stdout) as Array<{ id: string }>;
    expect(full.map((run) => run.id)).toEqual(expect.arrayContaining([ids.ok0, ids.ok1, ids.ok2, ids.failed, ids.big]));
    expect(shown).toEqual(full.map((run) => run.id.slice(-8)));
    expect(new Set(shown).size).toBe(shown.length);
    // Started in one burst, their ids share their timestamp start: what the list showed before.
    expect(new Set(full.map((run) => run.id.slice(0, 4))).size).toBe(1);
  });

  it('shows whole ids with --full-ids', async () => {
    const result = await runAf(project.root, ['runs', '--template', 'private', '--full-ids']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(ids.private);
  });

  it('accepts a unique start or end of an id, and says so when one matches several runs or none', async () => {
    const full = ids.failed as string;
    for (const part of [full, full.slice(-8), full.slice(-5).toUpperCase(), full.slice(0, 23)]) {
      const result = await runAf(project.root, ['runs', 'show', part, '--json']);
      expect(result.status, part).toBe(0);
      expect(JSON.parse(result.stdout).id).toBe(full);
    }
    const ambiguous = await runAf(project.root, ['runs', 'show', full.slice(0, 4)]);
    expect(ambiguous.status).toBe(2);
    expect(ambiguous.stderr).toMatch(/E_USAGE: ".{4}" matches (more than 5|\d+) runs .*type more of the id/);
    const missing = await runAf(project.root, ['runs', 'show', '0000-0000']);
    expect(missing.status).toBe(4);
    expect(missing.stderr).toContain('E_NOT_FOUND: no run id starts or ends with "0000-0000"');
    const notAnId = await runAf(project.root, ['runs', 'show', 'zz']);
    expect(notAnId.status).toBe(2);
    expect(notAnId.stderr).toContain('is not a run id');
  });
});

describe('af runs show', () => {
  it('prints a failed run in full: version, digest, env, tenant, stats, grants, denials, error code and message, captured input and logs', async () => {
    const result = await runAf(project.root, ['runs', 'show', (ids.failed as string).slice(-8)]);
    expect(result.status).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`run       ${ids.failed}`);
    expect(out).toMatch(/template  flaky 1\.0\.0\ndigest    [0-9a-f]{64}\nenv       dev · tenant default\n/);
    expect(out).toContain('outcome   E_AGENT_THREW: Error: n is too big: 11');
    expect(out).toMatch(/stats     run [\d.]+ ms · create [\d.]+ ms · cpu [\d.]+ ms · heap [\d.]+ MB · input \d+ B · output 0 B/);
    expect(out).toContain('grants    kv');
    expect(out).toContain('denials   net not-granted.example');
    expect(out).toContain('"secret": "hunter2"');
    expect(out).toContain('[info] checking {"n":11}');
    expect(out).toContain(`replay it: af runs replay ${(ids.failed as string).slice(-8)}`);
  });

  it('prints JSON with the record, children and capture', async () => {
    const result = await runAf(project.root, ['runs', 'show', ids.failed as string, '--json']);
    const detail = JSON.parse(result.stdout);
    expect(detail).toMatchObject({ id: ids.failed, template: 'flaky', outcome: 'error', errorCode: 'E_AGENT_THREW', grantsUsed: ['kv'], children: [] });
    expect(detail.capture).toMatchObject({ errorMessage: 'Error: n is too big: 11', inputTruncated: false, maxBytes: 1024 });
    expect(JSON.parse(detail.capture.input)).toEqual({ n: 11, secret: 'hunter2' });
  });

  it('links a spawned run and the run that spawned it', async () => {
    const parent = JSON.parse((await runAf(project.root, ['runs', 'show', ids.parent as string, '--json'])).stdout);
    expect(parent.children).toHaveLength(1);
    expect(parent.children[0]).toMatchObject({ template: 'flaky', outcome: 'error', errorCode: 'E_AGENT_THREW' });
    const child = await runAf(project.root, ['runs', 'show', parent.children[0].id]);
    expect(child.stdout).toContain(`parent    ${ids.parent}`);
    const text = await runAf(project.root, ['runs', 'show', ids.parent as string]);
    expect(text.stdout).toMatch(new RegExp(`children  1\\n  ${parent.children[0].id.slice(-8)}  flaky  E_AGENT_THREW`));
  });
});

describe('capture of failed runs', () => {
  it('is printed as text: what the agent logged, threw or was given never reaches the terminal as controls', async () => {
    const result = await runAf(project.root, ['runs', 'show', ids.hostile as string]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('E_AGENT_THREW');
    expect(result.stdout).toContain('pwned');
    // eslint-disable-next-line no-control-regex
    expect(result.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });


  it('is never made for a template that does not opt in, nor for a run that succeeded', async () => {
    const handle = db();
    const rows = handle.prepare('SELECT run_id FROM run_captures').all() as Array<{ run_id: string }>;
    const text = handle.prepare("SELECT group_concat(coalesce(input, '') || logs || coalesce(error_message, '')) AS t FROM run_captures").get() as { t: string };
    handle.close();
    const captured = rows.map((row) => row.run_id);
    expect(captured).not.toContain(ids.private);
    expect(captured).not.toContain(ids.ok0);
    expect(captured).toContain(ids.failed);
    expect(text.t).not.toContain('"n":13');
    const shown = await runAf(project.root, ['runs', 'show', ids.private as string]);
    expect(shown.stdout).toContain('nothing captured');
    expect(shown.stdout).not.toContain('hunter2');
  });

  it('keeps an output its schema refused', async () => {
    const detail = JSON.parse((await runAf(project.root, ['runs', 'show', ids.fussy as string, '--json'])).stdout);
    expect(detail.errorCode).toBe('E_OUTPUT_INVALID');
    expect(JSON.parse(detail.capture.output)).toEqual({ got: { a: 1 } });
  });

  it('cuts each part to maxCaptureKb with a marker, and refuses to replay a cut input', async () => {
    const detail = JSON.parse((await runAf(project.root, ['runs', 'show', ids.big as string, '--json'])).stdout);
    expect(detail.capture.inputTruncated).toBe(true);
    expect(detail.capture.input).toMatch(/…\[truncated: \d+ more bytes\]$/);
    expect(Buffer.byteLength(detail.capture.input.replace(/…\[truncated: \d+ more bytes\]$/, ''))).toBeLessThanOrEqual(1024);
    const text = await runAf(project.root, ['runs', 'show', ids.big as string]);
    expect(text.stdout).toContain('input (truncated: cannot be replayed)');
    const replay = await runAf(project.root, ['runs', 'replay', ids.big as string]);
    expect(replay.status).toBe(2);
    expect(replay.stderr).toContain('was cut to 1 KB when it was captured');
  });

  it('rejects a maxCaptureKb out of bounds in agent.json', async () => {
    const other = createProject(simpleTemplate('bad', { debug: { captureFailures: true, maxCaptureKb: 0, keep: 1 } }));
    try {
      const result = await runAf(other.root, ['validate']);
      expect(result.status).toBe(1);
      expect(result.stderr + result.stdout).toMatch(/\/debug\/maxCaptureKb.*at least 1/);
      expect(result.stderr + result.stdout).toContain('unknown key "keep" in /debug');
    } finally {
      other.remove();
    }
  });
});

describe('af runs replay', () => {
  it('runs the captured input again, on the current code, with the exit status of af run', async () => {
    const before = await runAf(project.root, ['runs', 'replay', (ids.failed as string).slice(-6)]);
    expect(before.status).toBe(1);
    expect(before.stderr).toContain('error E_AGENT_THREW: Error: n is too big: 11');
    expect(before.stderr).toMatch(/replayed run [0-9a-f]{8} as [0-9a-f]{8}: flaky 1\.0\.0 \(digest [0-9a-f]{12}, the same code\), env dev, tenant default/);
    // The fix: the agent accepts bigger numbers now.
    project.write('agents/flaky/main.ts', FLAKY.replace('input.n > 10', 'input.n > 100'));
    const after = await runAf(project.root, ['runs', 'replay', ids.failed as string, '--json']);
    expect(after.status).toBe(0);
    const line = JSON.parse(after.stdout);
    expect(line).toMatchObject({ ok: true, replayOf: ids.failed, version: '1.0.0', output: { n: 11 } });
    expect(after.stderr).toContain('other code than the run');
    project.write('agents/flaky/main.ts', FLAKY);
  });

  it('says why when a run has nothing to replay', async () => {
    const result = await runAf(project.root, ['runs', 'replay', ids.private as string]);
    expect(result.status).toBe(4);
    expect(result.stderr).toContain('has no captured input to replay: "private" did not capture failed runs');
  });
});

describe('af store prune', () => {
  it('deletes captured data alone with --captures-older-than, and with the runs with --older-than', async () => {
    const scratch = createProject(simpleTemplate('flaky', { permissions: { kv: true }, debug: { captureFailures: true } }, FLAKY));
    try {
      const factory = await createFactory({ root: scratch.root, hosts: 1 });
      const failed = (await factory.runSettled('flaky', { n: 20 })).runId;
      await factory.close();
      const count = (sql: string) => {
        const handle = new Database(path.join(scratch.root, '.af', 'factory.db'), { readonly: true });
        try {
          return (handle.prepare(sql).get() as { n: number }).n;
        } finally {
          handle.close();
        }
      };
      expect(count('SELECT count(*) AS n FROM run_captures')).toBe(1);
      const captures = await runAf(scratch.root, ['store', 'prune', '--captures-older-than', '0s', '--json']);
      expect(captures.status).toBe(0);
      expect(JSON.parse(captures.stdout)).toEqual({ deleted: 0, captures: 1 });
      expect(count('SELECT count(*) AS n FROM run_captures')).toBe(0);
      expect(count(`SELECT count(*) AS n FROM runs WHERE id = '${failed}'`)).toBe(1);

      const again = await createFactory({ root: scratch.root, hosts: 1 });
      await again.runSettled('flaky', { n: 21 });
      await again.close();
      const all = await runAf(scratch.root, ['store', 'prune', '--older-than', '0s']);
      expect(all.stdout).toBe('deleted 2 runs older than 0s and 1 captured failed run; the audit log is kept\n');
      expect(count('SELECT count(*) AS n FROM run_captures') + count('SELECT count(*) AS n FROM runs')).toBe(0);
      const neither = await runAf(scratch.root, ['store', 'prune']);
      expect(neither.status).toBe(2);
      expect(neither.stderr).toContain('say what to prune');
    } finally {
      scratch.remove();
    }
  });
});

describe('af runs --follow', () => {
  it('prints runs as they are recorded, one JSON line each, until SIGINT (exit 0)', async () => {
    const child = spawn(process.execPath, ['--no-node-snapshot', path.join(REPO, 'bin/af.js'), 'runs', '--follow', '--json', '--limit', '1', '--template', 'flaky'], {
      cwd: project.root,
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const until = async (check: () => boolean) => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 50));
    };
    await until(() => stderr.includes('following new runs'));
    const lines = () => stdout.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { id: string; template: string });
    expect(lines()).toHaveLength(1);
    const run = await runAf(project.root, ['run', 'flaky', '--input', '{"n": 3}', '--json']);
    await runAf(project.root, ['run', 'private', '--input', '{"n": 3}']);
    const second = await runAf(project.root, ['run', 'flaky', '--input', '{"n": 4}', '--json']);
    const newIds = [JSON.parse(run.stdout).runId, JSON.parse(second.stdout).runId];
    await until(() => lines().length >= 3);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(lines().slice(1).map((line) => line.id)).toEqual(newIds);
    expect(lines().every((line) => line.template === 'flaky')).toBe(true);
  });
});

describe('the capture stays off the success path', () => {
  it('does not touch the store for runs that succeed', () => {
    // A capture row exists only for failed runs; successful runs of the same opted-in template have none.
    const handle = db();
    try {
      const okCaptured = handle.prepare("SELECT count(*) AS n FROM run_captures c JOIN runs r ON r.id = c.run_id WHERE r.outcome = 'ok'").get() as { n: number };
      expect(okCaptured.n).toBe(0);
    } finally {
      handle.close();
    }
  });
});
