// `af dev NAME` as a user runs it: the real `af` process, real saves of main.ts and an imported module, the new output
// on every save, limits used and denials, and ctrl+c (SIGINT to the process group, as a terminal sends it) ending with 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProject, type TempProject } from '../helpers/project.js';

const AF = fileURLToPath(new URL('../../bin/af.js', import.meta.url));

let project: TempProject;
let child: ChildProcess | undefined;

beforeEach(() => {
  project = createProject({
    'agents/hi/agent.json': { name: 'hi', version: '1.0.0', entry: 'main.ts', permissions: { env: ['LOG_LEVEL'] }, limits: { cpuMs: 1500, timeoutMs: 2000, memoryMb: 64 } },
    'agents/hi/main.ts': "import { tag } from './tag.ts';\nexport default (input, ctx) => { ctx.log.info('saying', { n: input.n }); return { said: 'first', tag, n: input.n }; };\n",
    'agents/hi/tag.ts': "export const tag = 'tag-1';\n",
  });
});

afterEach(() => {
  if (child?.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  project.remove();
});

/** Starts `af dev` in its own process group and collects what it prints. */
function startDev(...args: string[]) {
  const output = { stdout: '', stderr: '' };
  child = spawn(process.execPath, ['--no-node-snapshot', AF, 'dev', ...args], {
    cwd: project.root,
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AF_'))), NO_COLOR: '1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
  return { output, exited };
}

async function until(check: () => boolean, what: () => string): Promise<void> {
  for (let waited = 0; !check(); waited += 50) {
    if (waited > 20_000) throw new Error(`never saw it; got:\n${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('af dev', () => {
  it('runs, re-runs on every save with the same input, shows logs, limits used and denials, and exits 0 on ctrl+c', { timeout: 60_000 }, async () => {
    const { output, exited } = startDev('hi', '--input', '{"n":7}');
    const seen = () => `${output.stdout}\n--- stderr ---\n${output.stderr}`;
    await until(() => output.stdout.includes('"said": "first"'), seen);
    await until(() => output.stderr.includes('watching agents/hi'), seen);
    expect(output.stderr).toContain('[hi] info saying {"n":7}');
    expect(output.stderr).toMatch(/ok cpu [\d.]+\/1500 ms · wall [\d.]+\/2000 ms · heap [\d.]+\/64 MB/);
    expect(output.stderr).toMatch(/ran hi 1\.0\.0 \(digest [0-9a-f]{12}, on disk, signature not verified: dev only\)/);

    writeFileSync(
      path.join(project.agentsDir, 'hi', 'main.ts'),
      "import { tag } from './tag.ts';\nexport default (input, ctx) => { try { ctx.env.get('SECRET'); } catch {} return { said: 'second', tag, n: input.n }; };\n",
    );
    await until(() => output.stdout.includes('"said": "second"'), seen);
    await until(() => /denied env SECRET/.test(output.stderr), seen);
    expect(output.stdout).toMatch(/"said": "second",\s+"tag": "tag-1",\s+"n": 7/);

    // An imported module is part of the template too.
    writeFileSync(path.join(project.agentsDir, 'hi', 'tag.ts'), "export const tag = 'tag-2';\n");
    await until(() => output.stdout.includes('"tag": "tag-2"'), seen);

    // A broken save says what and where, and the loop goes on.
    writeFileSync(path.join(project.agentsDir, 'hi', 'tag.ts'), 'export const tag = ;\n');
    await until(() => output.stderr.includes('E_TEMPLATE_INVALID'), seen);
    writeFileSync(path.join(project.agentsDir, 'hi', 'tag.ts'), "export const tag = 'tag-3';\n");
    await until(() => output.stdout.includes('"tag": "tag-3"'), seen);

    process.kill(-(child?.pid as number), 'SIGINT');
    expect(await exited).toBe(0);
    expect(output.stderr).toMatch(/stopped \(SIGINT\) after \d+ runs/);
  });

  it('refuses an environment that runs only signed versions', async () => {
    const { output, exited } = startDev('hi', '--env', 'prod');
    expect(await exited).toBe(2);
    expect(output.stderr).toContain('af dev runs the code on disk, which only a dev environment does');
  });
});
