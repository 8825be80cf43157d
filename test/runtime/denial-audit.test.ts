// Permission denials in the audit log: bounded per template and tenant, so one tenant's flood neither reaches the log
// nor silences the audit of another tenant's denials; each entry, and each summary, names its tenant.
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { DenialAudit } from '../../runtime/denial-audit.js';
import { openStore, type Store } from '../../store/index.js';
import { createProject, type TempProject } from '../helpers/project.js';

let project: TempProject;
let store: Store;

beforeEach(() => {
  project = createProject({});
  store = openStore({ path: path.join(project.root, 'factory.db') });
});
afterEach(async () => {
  await store.close();
  project.remove();
});

const denial = (tenant: string) => ({ template: 'snoop', tenant, permission: 'net', target: 'evil.test:443', grantKey: 'permissions.net' });

it("audits another tenant's denial while one tenant's flood is capped, and summarises the flood for its tenant", async () => {
  const clock = createManualClock(1_000_000);
  const audit = new DenialAudit(store, silentLogger, clock);
  for (let i = 0; i < 150; i++) audit.report(denial('noisy'));
  audit.report(denial('quiet'));
  await audit.flush();
  const denied = store.audit.list({ type: 'permission.denied', limit: 1000 });
  expect(denied.filter((entry) => entry.data.tenant === 'noisy')).toHaveLength(100);
  expect(denied.filter((entry) => entry.data.tenant === 'quiet')).toHaveLength(1);
  expect(store.audit.list({ type: 'permission.denied.suppressed' })).toEqual([expect.objectContaining({ subject: 'snoop', data: { count: 50, perMinuteCap: 100, tenant: 'noisy' } })]);
  expect(store.audit.verify()).toMatchObject({ ok: true });
});
