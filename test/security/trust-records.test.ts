// The trust data that decides what runs (roots, signers, revocations, retirements) lives in `.af/factory.db`, which
// the partly trusted can write. Outside dev, rows they add, edit or delete must change nothing that runs: the keys
// folder (which they cannot write) holds a keyed seal of that data, and anything else fails closed with E_TRUST_STATE.
// Everything here is real: the `af` CLI in-process, real keys and signatures, real SQLite files edited through a
// second connection, a real factory that keeps running while another connection changes the data.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';
import { resolveConfig } from '../../core/config.js';
import { FactoryError } from '../../core/errors.js';
import { type AgentFactory, createFactory } from '../../runtime/index.js';
import { TrustSeal } from '../../store/index.js';
import { JsonTrustStore } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject | undefined;
let attacker: TempProject | undefined;
let factory: AgentFactory | undefined;
afterEach(async () => {
  await factory?.close();
  factory = undefined;
  project?.remove();
  attacker?.remove();
  project = undefined;
  attacker = undefined;
});

async function afIn(where: TempProject, ...args: string[]) {
  return runAf(where.root, args);
}

const af = (...args: string[]) => afIn(project as TempProject, ...args);

/** `af --env ENV run NAME --json`: the exit status, and the output when it ran or the error when it was refused. */
async function runIn(env: string, name: string): Promise<{ status: number; output?: unknown; code?: string; message?: string; stderr: string }> {
  const ran = await af('--env', env, 'run', name, '--input', '{}', '--json');
  const report = JSON.parse(ran.stdout) as { ok: boolean; output?: unknown; error?: { code: string; message: string } };
  return report.ok ? { status: ran.status, output: report.output, stderr: ran.stderr } : { status: ran.status, code: report.error?.code as string, message: report.error?.message as string, stderr: ran.stderr };
}

const files = {
  ...simpleTemplate('alpha', {}, "export default () => ({ who: 'alpha' });\n"),
  ...simpleTemplate('evil', {}, "export default () => ({ who: 'EVIL RAN' });\n"),
};

/** A project with its own keys, alpha signed; and `evil` as the attacker signs it with a CA of their own. */
async function setUp(): Promise<{ signerId: string; attackerRoot: { id: string; certificate_pem: string; [column: string]: unknown } }> {
  project = createProject(files);
  const init = JSON.parse((await af('keys', 'init', '--json')).stdout) as { signer: { id: string } };
  expect((await af('sign', 'alpha')).status).toBe(0);
  // The attacker: the same template files in a folder of their own, signed by a root they made; agent.sig copied over.
  attacker = createProject(files);
  expect((await afIn(attacker, 'keys', 'init')).status).toBe(0);
  expect((await afIn(attacker, 'sign', 'evil')).status).toBe(0);
  cpSync(path.join(attacker.agentsDir, 'evil/agent.sig'), path.join(project.agentsDir, 'evil/agent.sig'));
  const theirs = new Database(path.join(attacker.root, '.af/factory.db'));
  const attackerRoot = theirs.prepare("SELECT * FROM keys WHERE role = 'root'").get() as { id: string; certificate_pem: string };
  theirs.close();
  expect((await runIn('prod', 'alpha')).output).toEqual({ who: 'alpha' });
  expect((await runIn('prod', 'evil')).code).toBe('E_SIGNATURE_INVALID');
  return { signerId: init.signer.id, attackerRoot };
}

/** What someone who can write `.af/` but not `.af/keys` does: SQL through a connection of their own. */
function sql(statement: string, ...params: unknown[]): number {
  const db = new Database(path.join((project as TempProject).root, '.af/factory.db'));
  try {
    return db.prepare(statement).run(...params).changes;
  } finally {
    db.close();
  }
}

function insertRoot(row: Record<string, unknown>): void {
  expect(sql('INSERT INTO keys (id, role, name, certificate_pem, not_before, not_after, created_at) VALUES (@id, @role, @name, @certificate_pem, @not_before, @not_after, @created_at)', row)).toBe(1);
}

describe('rows added to the trust tables without the keys folder', () => {
  it("an attacker's root and a template signed under it: prod refuses it (exit 3, E_TRUST_STATE) and nothing runs", async () => {
    const { attackerRoot } = await setUp();
    insertRoot(attackerRoot);
    const evil = await runIn('prod', 'evil');
    expect(evil.status).toBe(3);
    expect(evil.output).toBeUndefined();
    expect(evil.code).toBe('E_TRUST_STATE');
    expect(evil.message).toContain(`key ${attackerRoot.id} (root "Agent Factory local root") added`);
    expect(evil.message).toContain('af keys verify');
    // Fail closed: the whole trust data is in doubt, so the genuine template does not run either.
    expect((await runIn('staging', 'alpha')).code).toBe('E_TRUST_STATE');
    // `af verify` (the gate without a dev waiver) says so too.
    const verified = await af('verify', 'evil', '--env', 'prod');
    expect(verified.status).toBe(3);
    expect(verified.stdout).toContain('E_TRUST_STATE');
  });

  it('af keys verify names the change; --repair deletes the row, and the attacker-signed template is untrusted again', async () => {
    const { attackerRoot } = await setUp();
    insertRoot(attackerRoot);
    const verify = await af('keys', 'verify');
    expect(verify.status).toBe(3);
    expect(verify.stderr).toContain(`key ${attackerRoot.id} (root "Agent Factory local root") added`);
    const repaired = await af('keys', 'verify', '--repair');
    expect(repaired.status).toBe(0);
    expect(repaired.stdout).toContain(`undoing: key ${attackerRoot.id}`);
    expect((await af('keys', 'verify')).status).toBe(0);
    expect((await runIn('prod', 'alpha')).output).toEqual({ who: 'alpha' });
    expect((await runIn('prod', 'evil')).code).toBe('E_SIGNATURE_INVALID');
  });

  it("a legitimate change made after the tampering (af keys rotate) does not adopt the attacker's root", async () => {
    const { attackerRoot } = await setUp();
    insertRoot(attackerRoot);
    expect((await af('keys', 'rotate')).status).toBe(0);
    expect((await runIn('prod', 'evil')).code).toBe('E_TRUST_STATE');
    expect((await af('keys', 'verify')).status).toBe(3);
  });

  it('a signer row of the project promoted to root: refused', async () => {
    const { signerId } = await setUp();
    expect(sql("UPDATE keys SET role = 'root' WHERE id = ?", signerId)).toBe(1);
    expect((await runIn('prod', 'alpha')).code).toBe('E_TRUST_STATE');
  });

  it('dev runs it all the same, with a warning that names the change', async () => {
    const { attackerRoot } = await setUp();
    insertRoot(attackerRoot);
    const ran = await runIn('dev', 'evil');
    expect(ran.output).toEqual({ who: 'EVIL RAN' });
    expect(ran.stderr).toContain('changed without the keys folder');
  });

  it('a trust.json dropped into .af/ with every key row deleted is not imported once the data is sealed', async () => {
    const { attackerRoot } = await setUp();
    sql('DELETE FROM revocations');
    sql('DELETE FROM keys');
    const trustJson = path.join((project as TempProject).root, '.af/trust.json');
    const record = {
      id: attackerRoot.id, role: 'root', name: 'evil root', certificatePem: attackerRoot.certificate_pem,
      notBefore: attackerRoot.not_before, notAfter: attackerRoot.not_after, createdAt: attackerRoot.created_at,
    };
    writeFileSync(trustJson, JSON.stringify({ version: 1, keys: [record], revocations: [] }));
    const evil = await runIn('prod', 'evil');
    expect(evil.output).toBeUndefined();
    expect(evil.code).toBe('E_TRUST_STATE');
    expect(existsSync(trustJson)).toBe(true);
    expect(existsSync(`${trustJson}.migrated`)).toBe(false);
  });
});

describe('rows edited in place', () => {
  it("the root's certificate replaced by the attacker's: refused", async () => {
    const { attackerRoot } = await setUp();
    expect(sql("UPDATE keys SET certificate_pem = ? WHERE role = 'root'", attackerRoot.certificate_pem)).toBe(1);
    const evil = await runIn('prod', 'evil');
    expect(evil.status).toBe(3);
    expect(evil.code).toBe('E_TRUST_STATE');
    expect(evil.message).toMatch(/key [0-9a-f]{16} \(root "Agent Factory local root"\) edited/);
  });

  it("a signer's validity stretched: refused", async () => {
    const { signerId } = await setUp();
    expect(sql('UPDATE keys SET not_after = not_after + 86400000 WHERE id = ?', signerId)).toBe(1);
    const alpha = await runIn('prod', 'alpha');
    expect(alpha.code).toBe('E_TRUST_STATE');
    expect(alpha.message).toContain(`key ${signerId} (signer "signer-1") edited`);
  });
});

describe('rows deleted', () => {
  it('a revocation deleted: the revoked signer’s template is still refused', async () => {
    const { signerId } = await setUp();
    expect((await af('keys', 'revoke', signerId)).status).toBe(0);
    expect((await runIn('prod', 'alpha')).code).toBe('E_KEY_REVOKED');
    expect(sql('DELETE FROM revocations WHERE id = ?', signerId)).toBe(1);
    const alpha = await runIn('prod', 'alpha');
    expect(alpha.status).toBe(3);
    expect(alpha.output).toBeUndefined();
    expect(alpha.code).toBe('E_TRUST_STATE');
    expect(alpha.message).toContain(`revocation of key ${signerId} removed`);
    // Re-running the command that owns the row puts it back.
    expect((await af('keys', 'revoke', signerId)).status).toBe(0);
    expect((await runIn('prod', 'alpha')).code).toBe('E_KEY_REVOKED');
    expect((await af('keys', 'verify')).status).toBe(0);
  });

  it('a retirement deleted: the retired version is still refused; --repair puts it back', async () => {
    await setUp();
    expect((await af('versions', 'retire', 'alpha', '1.0.0', '--reason', 'leaks')).status).toBe(0);
    expect((await runIn('prod', 'alpha')).code).toBe('E_VERSION_RETIRED');
    expect(sql("DELETE FROM retired_versions WHERE name = 'alpha'")).toBe(1);
    const alpha = await runIn('prod', 'alpha');
    expect(alpha.output).toBeUndefined();
    expect(alpha.code).toBe('E_TRUST_STATE');
    expect(alpha.message).toContain('retirement of alpha@1.0.0 removed');
    expect((await af('keys', 'verify', '--repair')).status).toBe(0);
    expect((await runIn('prod', 'alpha')).code).toBe('E_VERSION_RETIRED');
  });

  it('a retirement edited to another version: refused', async () => {
    await setUp();
    expect((await af('versions', 'retire', 'alpha', '1.0.0')).status).toBe(0);
    expect(sql("UPDATE retired_versions SET version = '0.0.1' WHERE name = 'alpha'")).toBe(1);
    expect((await runIn('prod', 'alpha')).code).toBe('E_TRUST_STATE');
  });
});

describe('a running factory', () => {
  async function prodFactory(): Promise<AgentFactory> {
    factory = await createFactory({ root: (project as TempProject).root, env: 'prod', isolation: 'inline' });
    expect((await factory.run('alpha', {})).output).toEqual({ who: 'alpha' });
    return factory;
  }
  const reloaded = () => new Promise((resolve) => setTimeout(resolve, 250));

  async function codeOf(run: Promise<unknown>): Promise<string | undefined> {
    try {
      await run;
      return undefined;
    } catch (error) {
      return error instanceof FactoryError ? error.code : String(error);
    }
  }

  it('sees a revocation deleted by another connection after the data_version reload, on its cached template', async () => {
    const { signerId } = await setUp();
    const running = await prodFactory();
    // A legitimate revocation from another process (the CLI, its own connection) is seen…
    expect((await af('keys', 'revoke', signerId)).status).toBe(0);
    await reloaded();
    expect(await codeOf(running.run('alpha', {}))).toBe('E_KEY_REVOKED');
    // …and deleting it does not bring the template back.
    expect(sql('DELETE FROM revocations WHERE id = ?', signerId)).toBe(1);
    await reloaded();
    expect(await codeOf(running.run('alpha', {}))).toBe('E_TRUST_STATE');
  });

  it("sees an attacker's root inserted by another connection, and a retirement deleted", async () => {
    const { attackerRoot } = await setUp();
    const running = await prodFactory();
    insertRoot(attackerRoot);
    await reloaded();
    expect(await codeOf(running.run('alpha', {}))).toBe('E_TRUST_STATE');
    expect(await codeOf(running.run('evil', {}))).toBe('E_TRUST_STATE');
    expect(sql('DELETE FROM keys WHERE id = ?', attackerRoot.id)).toBe(1);
    await reloaded();
    // Back as sealed: runs again, with nothing restarted.
    expect((await running.run('alpha', {})).output).toEqual({ who: 'alpha' });

    expect((await af('versions', 'retire', 'alpha', '1.0.0')).status).toBe(0);
    await reloaded();
    expect(await codeOf(running.run('alpha', {}))).toBe('E_VERSION_RETIRED');
    expect(sql('DELETE FROM retired_versions')).toBe(1);
    await reloaded();
    expect(await codeOf(running.run('alpha', {}))).toBe('E_TRUST_STATE');
  });

  it('legitimate changes from other processes keep working: a new signer and a re-signed template run', async () => {
    await setUp();
    const running = await prodFactory();
    expect((await af('keys', 'rotate')).status).toBe(0);
    writeFileSync(path.join((project as TempProject).agentsDir, 'alpha/main.ts'), "export default () => ({ who: 'alpha 2' });\n");
    expect((await af('sign', 'alpha')).status).toBe(0);
    await reloaded();
    await factory?.close();
    factory = await createFactory({ root: (project as TempProject).root, env: 'prod', isolation: 'inline' });
    expect((await factory.run('alpha', {})).output).toEqual({ who: 'alpha 2' });
    expect(running).toBeDefined();
  });
});

describe('sealing', () => {
  it('a database from before seals is adopted on first open, and the adoption is in the audit log', async () => {
    await setUp();
    const keysDir = path.join((project as TempProject).root, '.af/keys');
    rmSync(path.join(keysDir, 'trust-seal.json'));
    expect((await af('keys', 'verify')).status).toBe(0);
    const seal = JSON.parse(readFileSync(path.join(keysDir, 'trust-seal.json'), 'utf8')) as { state: { keys: unknown[] }; mac: string };
    expect(seal.state.keys).toHaveLength(2);
    expect(seal.mac).toMatch(/^[0-9a-f]{64}$/);
    const audit = await af('audit-log', 'list', '--json');
    expect(audit.stdout).toContain('trust.sealed');
  });

  it('a seal edited by hand (its MAC no longer matches) vouches for nothing', async () => {
    await setUp();
    const file = path.join((project as TempProject).root, '.af/keys/trust-seal.json');
    const seal = JSON.parse(readFileSync(file, 'utf8')) as { at: number };
    seal.at += 1;
    writeFileSync(file, JSON.stringify(seal));
    const alpha = await runIn('prod', 'alpha');
    expect(alpha.code).toBe('E_TRUST_STATE');
    expect(alpha.message).toContain('MAC does not match');
  });

  it('a trust store opened where the keys folder cannot be written and nothing was ever sealed fails closed outside dev', async () => {
    await setUp();
    const keysDir = path.join((project as TempProject).root, '.af/keys');
    rmSync(path.join(keysDir, 'trust-seal.json'));
    // Tests run as root, which file modes do not stop: a folder where the seal's temporary file goes stands for a keys
    // folder this process may not write (an API server run as another user, on an installation from before seals).
    mkdirSync(path.join(keysDir, `trust-seal.json.${process.pid}.tmp`));
    const alpha = await runIn('prod', 'alpha');
    expect(alpha.code).toBe('E_TRUST_STATE');
    expect(alpha.message).toContain('never sealed');
    expect((await runIn('dev', 'alpha')).output).toEqual({ who: 'alpha' });
  });
});

describe('processes that cannot write the keys folder', () => {
  /** Tests run as root, which file modes do not stop: a folder where the seal's temporary file goes blocks its writes. */
  function blockSealWrites(): () => void {
    const blocker = path.join((project as TempProject).root, '.af/keys', `trust-seal.json.${process.pid}.tmp`);
    mkdirSync(blocker);
    return () => rmSync(blocker, { recursive: true });
  }

  it('may still revoke and retire (a restriction needs no voucher), which the next process with the keys folder seals', async () => {
    const { signerId } = await setUp();
    const unblock = blockSealWrites();
    expect((await af('keys', 'revoke', signerId)).status).toBe(0);
    expect((await af('versions', 'retire', 'alpha', '1.0.0')).status).toBe(0);
    expect((await runIn('prod', 'alpha')).code).toBe('E_VERSION_RETIRED');
    unblock();
    const verify = await af('keys', 'verify');
    expect(verify.status).toBe(0);
    expect(verify.stdout).toContain(`sealed 2 made without the keys folder: revocation of key ${signerId} added, retirement of alpha@1.0.0 added`);
    // Sealed now: deleting them shows.
    expect(sql('DELETE FROM retired_versions')).toBe(1);
    expect((await runIn('prod', 'alpha')).code).toBe('E_TRUST_STATE');
  });

  it('may not add a key: the row is rolled back and the data stays sound', async () => {
    await setUp();
    const unblock = blockSealWrites();
    const rotated = await af('keys', 'rotate');
    expect(rotated.status).not.toBe(0);
    unblock();
    expect((await af('keys', 'verify')).status).toBe(0);
    const db = new Database(path.join((project as TempProject).root, '.af/factory.db'), { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM keys WHERE role = 'signer'").get() as { n: number }).n).toBe(1);
    db.close();
    expect((await runIn('prod', 'alpha')).output).toEqual({ who: 'alpha' });
  });
});

describe('af keys verify --adopt', () => {
  it('seals the data as it is, after a review, and says what it took in', async () => {
    const { signerId } = await setUp();
    expect(sql('UPDATE keys SET name = ? WHERE id = ?', 'renamed by the admin', signerId)).toBe(1);
    expect((await runIn('prod', 'alpha')).code).toBe('E_TRUST_STATE');
    const adopted = await af('keys', 'verify', '--adopt');
    expect(adopted.status).toBe(0);
    expect(adopted.stdout).toContain(`key ${signerId} (signer "renamed by the admin") edited`);
    expect((await runIn('prod', 'alpha')).output).toEqual({ who: 'alpha' });
    expect((await af('audit-log', 'list', '--json')).stdout).toContain('trust.sealed');
  });
});

describe('.af/trust.json, the trust data of a factory without a store', () => {
  it('a root added to trust.json without the keys folder: a factory with store: false refuses in prod', async () => {
    const { attackerRoot } = await setUp();
    const root = (project as TempProject).root;
    const config = resolveConfig({ root });
    // The legitimate path: the project's keys copied into trust.json through a JsonTrustStore sealed in the keys folder.
    const json = new JsonTrustStore(path.join(root, '.af/trust.json'), { pollMs: 0, seal: new TrustSeal(config.keysDir, { file: 'trust-json-seal.json' }) });
    const db = new Database(config.dbPath, { readonly: true });
    for (const row of db.prepare('SELECT * FROM keys').all() as Array<Record<string, never>>) {
      json.addKey({ id: row.id, role: row.role, name: row.name, certificatePem: row.certificate_pem, notBefore: row.not_before, notAfter: row.not_after, createdAt: row.created_at });
    }
    db.close();
    json.close();
    factory = await createFactory({ root, env: 'prod', isolation: 'inline', store: false });
    expect((await factory.run('alpha', {})).output).toEqual({ who: 'alpha' });
    await factory.close();

    const file = path.join(root, '.af/trust.json');
    const data = JSON.parse(readFileSync(file, 'utf8')) as { keys: unknown[] };
    data.keys.push({
      id: attackerRoot.id, role: 'root', name: 'evil root', certificatePem: attackerRoot.certificate_pem,
      notBefore: attackerRoot.not_before, notAfter: attackerRoot.not_after, createdAt: attackerRoot.created_at,
    });
    writeFileSync(file, JSON.stringify(data));
    factory = await createFactory({ root, env: 'prod', isolation: 'inline', store: false });
    const refused = await factory.run('evil', {}).then(() => undefined, (error: FactoryError) => error);
    expect(refused?.code).toBe('E_TRUST_STATE');
    expect(refused?.message).toContain(`key ${attackerRoot.id} (root "evil root") added`);
  });
});
