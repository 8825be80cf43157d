// `af run`: input from --input, --input-file and stdin; the --json line; exit codes per the design.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { captureStreams } from '../helpers/streams.js';

let project: TempProject;

beforeAll(() => {
  project = createProject({
    ...simpleTemplate('double', { input: { type: 'object', required: ['n'], properties: { n: { type: 'number' } } } }, `export default (input, ctx) => {
  ctx.log.info('doubling', { n: input.n });
  return { result: input.n * 2 };
}
`),
    ...simpleTemplate('thrower', {}, "export default () => { throw new Error('no luck'); };\n"),
    ...simpleTemplate('spinner', { limits: { timeoutMs: 200, cpuMs: 5000 } }, 'export default () => { for (;;) {} };\n'),
    'inputs/seven.json': '{ "n": 7 }',
  });
});
afterAll(() => project.remove());

async function af(args: string[], stdinText?: string) {
  const { streams, printed } = captureStreams({ cwd: project.root, ...(stdinText !== undefined ? { stdin: stdinText } : {}) });
  const status = await runCli(args, streams);
  return { status, ...printed };
}

describe('af run', () => {
  it('prints the output on stdout and logs and cost on stderr', async () => {
    const result = await af(['run', 'double', '--input', '{"n": 21}']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ result: 42 });
    // dev runs the unsigned template, and says so.
    expect(result.stderr).toMatch(
      /^warn \[af:trust\] running "double" 1\.0\.0 in dev without a valid signature \(unsigned\); every other environment refuses it\n\[double\] info doubling \{"n":21\}\nok run [\d.]+ ms · create [\d.]+ ms · cpu [\d.]+ ms\nran double 1\.0\.0 \(digest [0-9a-f]{12}, on disk, signature not verified: dev only\)\n$/,
    );
  });

  it('prints one JSON line with --json', async () => {
    const result = await af(['run', 'double', '--input-file', 'inputs/seven.json', '--json']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const line = JSON.parse(result.stdout);
    expect(line).toMatchObject({ ok: true, output: { result: 14 }, stats: { tools: { log: 1 } } });
    expect(line.runId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads the input from stdin', async () => {
    const result = await af(['run', 'double', '--json'], '{"n": 1.5}');
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, output: { result: 3 } });
  });

  it.each([
    [['run', 'double', '--input', '{"n": }'], undefined, 2, 'E_USAGE', 'input from --input is not valid JSON: line 1, column 7: unexpected "}"; expected a value'],
    [['run', 'double'], '{"n": "x"}', 1, 'E_INPUT_INVALID', 'input does not match the input schema of "double": /n must be number'],
    [['run', 'double', '--input-file', 'inputs/absent.json'], undefined, 2, 'E_USAGE', 'cannot read --input-file inputs/absent.json: no such file ('],
    [['run', 'double'], '{"n": 1', 2, 'E_USAGE', 'input from stdin is not valid JSON: line 1'],
    [['run', 'thrower'], undefined, 1, 'E_AGENT_THREW', 'no luck'],
    [['run', 'spinner'], undefined, 1, 'E_TIMEOUT', 'limits.timeoutMs'],
    [['run', 'nobody'], undefined, 4, 'E_TEMPLATE_NOT_FOUND', 'no template named "nobody" in agents'],
    [['run', 'double', '--input', '{}', '--input-file', 'x.json'], undefined, 2, 'E_USAGE', 'give the input once: either --input or --input-file'],
  ])('%j exits with the design’s status and code', async (args, stdinText, status, code, message) => {
    const result = await af([...args, '--json'], stdinText);
    expect(result.status).toBe(status);
    const line = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}');
    expect(line.ok).toBe(false);
    expect(line.error.code).toBe(code);
    expect(line.error.message).toContain(message);
    expect(result.stderr).toContain(code);
  });
});
