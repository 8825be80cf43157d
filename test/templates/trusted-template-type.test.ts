// The trust boundary is a type: test/fixtures/types/trusted-template.ts is compiled with the project's compiler options, and each
// of its `@ts-expect-error` lines (a plain or forged template where a TrustedTemplate is required) must be a type error.
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const checked = path.join(root, 'test/fixtures/types/trusted-template.ts');

describe('TrustedTemplate as a type', () => {
  it('accepts only what the trust gate admitted, checked by the compiler', () => {
    const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    const program = ts.createProgram([checked], { ...options, noEmit: true });
    const source = program.getSourceFile(checked);
    expect(source).toBeDefined();
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((diagnostic) => {
      const { line } = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start) : { line: -1 };
      return `line ${line + 1}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
    // An unused @ts-expect-error (TS2578) is what a trust boundary that lets a forged template through looks like.
    expect(diagnostics).toEqual([]);
  }, 120_000);
});
