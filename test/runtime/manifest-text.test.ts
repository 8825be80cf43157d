// The data plane never reads agent.json: what runs, what a run reports and what the store keeps as a version's agent.json
// are what the resolve read (and the signature, or the dev waiver, covered), even when the file changes right after.
// Real files, a real store and real sandbox host processes.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFactory } from '../../runtime/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject | undefined;
afterEach(() => project?.remove());

describe('a manifest edited on disk after the resolve', () => {
  it('is not what runs, what the run reports, nor what the store records as that version\'s agent.json', async () => {
    project = createProject(simpleTemplate('hello', { description: 'as resolved', config: { said: 'as resolved' } }, 'export default (input, ctx) => ({ said: ctx.config.said });\n'));
    const file = path.join(project.agentsDir, 'hello', 'agent.json');
    const resolvedText = readFileSync(file, 'utf8');
    const editedText = `${JSON.stringify({ name: 'hello', version: '1.0.0', entry: 'main.ts', description: 'edited after the resolve', config: { said: 'edited' } }, null, 2)}\n`;
    // The gate audits the dev waiver after the resolve read agent.json and before the version is recorded: the edit
    // lands exactly in between, where recording used to read the file again.
    let isEdited = false;
    const factory = await createFactory({
      root: project.root,
      env: 'dev',
      hosts: 1,
      watch: false,
      onAudit: (event) => {
        if (event.type !== 'signature.waived' || isEdited) return;
        isEdited = true;
        writeFileSync(file, editedText);
      },
    });
    try {
      const report = await factory.runSettled('hello', {});
      expect(isEdited).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe(editedText);
      expect(report).toMatchObject({ ok: true, version: '1.0.0', source: 'on-disk', signed: false, output: { said: 'as resolved' } });
      const template = await factory.registry.resolve('hello');
      expect(template.manifestText).toBe(resolvedText);
      expect(template.manifest.description).toBe('as resolved');
      const recorded = factory.store?.versions.get('hello', '1.0.0');
      expect(recorded?.digest).toBe(report.digest);
      // The agent.json a rollback would put back is the one whose content the recorded digest covers.
      expect(recorded?.manifestFile).toBe(resolvedText);
    } finally {
      await factory.close();
    }
  });
});
