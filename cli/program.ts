/** @module cli/program — the `af` command tree; runs one command line and returns its exit status. */
import { Command, CommanderError } from 'commander';
import { FactoryError, toFactoryError } from '../core/errors.js';
import { escapeControl, terminalSafeJson } from '../core/terminal-text.js';
import type { ApiKeysCreateOptions } from './commands/api-keys.js';
import type { AuditCommandOptions } from './commands/audit.js';
import type { DemoCommandOptions } from './commands/demo.js';
import type { ServeCommandOptions } from './commands/serve.js';
import { enableTelemetry, type TelemetrySdk } from '../runtime/telemetry/index.js';
import type { MetricsCommandOptions } from './commands/metrics.js';
import type { NewCommandOptions } from './commands/new-agent.js';
import type { RunCommandOptions } from './commands/run.js';
import type { RunsOptions } from './commands/runs.js';
import type { ReplayOptions } from './commands/runs-replay.js';
import { type CommandContext, createCommandContext, type GlobalOptions } from './context.js';
import { EXIT, exitStatusFor } from './exit-status.js';
import { type CliStreams, printError } from './io.js';

const VERSION = '0.1.0';

// Each command's module is imported when that command runs: `af --help` or `af run` then never loads the learner
// (TensorFlow.js), the HTTP server or the terminal UI, which cost hundreds of milliseconds each to import.

/**
 * Runs `af` with `argv` (the words after `af`) and returns the exit status instead of exiting,
 * so tests can drive it in-process. Errors are printed, never thrown.
 */
export async function runCli(argv: readonly string[], streams: CliStreams): Promise<number> {
  let status: number = EXIT.ok;
  let isJson = false;
  const program = new Command('af');
  const context = createCommandContext(streams, () => program.opts<GlobalOptions>());
  // Every action reports its status here; commander itself never exits the process.
  const action =
    <A extends unknown[]>(handler: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      const options = args.find((arg) => arg instanceof Command) as Command | undefined;
      isJson = options?.opts<{ json?: boolean }>().json === true;
      status = await handler(...args);
    };

  program
    .description('Agent Factory: run signed agents in isolated sandboxes')
    .version(VERSION, '-V, --version')
    .option('--root <dir>', 'project root holding agents/ (default: the current folder, or $AF_ROOT)')
    .option('--env <env>', 'environment whose overlay applies (default: $AF_ENV or dev)')
    .option('--otel', 'turn OpenTelemetry on (also via OTEL_* variables; OTEL_SDK_DISABLED=true turns it off)')
    .showHelpAfterError('(run `af --help` for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
    });

  program
    .command('init [dir]')
    .description('start a project: agents/example, policy.json, tsconfig.json, the .af/ state folder kept out of git (never overwrites)')
    .option('--keys', 'also create a signing key pair (.af/keys) and sign the example, so it runs outside dev')
    .action(action(async (dir: string | undefined, options: { keys?: boolean }) => (await import('./commands/init.js')).initCommand(context, dir, options)));

  program
    .command('new <name>')
    .description('start an agent in agents/NAME: agent.json and main.ts (typed with agent-factory/agent), or a copy of --from (never overwrites)')
    .option('--from <template>', 'copy this template (a name, or a folder) with the name changed; an abstract one is extended instead')
    .option('--json', 'print {"name","dir","files"} as JSON')
    .action(action(async (name: string, options: NewCommandOptions) => (await import('./commands/new-agent.js')).newCommand(context, name, options)));

  program
    .command('doctor')
    .description('what this machine gives the sandbox: Node, isolated-vm (patched?), each host lockdown layer and why it is off, store, keys, policy; exits 1 outside dev when something is missing')
    .option('--json', 'print the report as JSON')
    .action(action(async (options: { json?: boolean }) => (await import('./commands/doctor.js')).doctorCommand(context, options)));

  program
    .command('validate [path]')
    .description('check templates: a template folder, an agents folder or a project (default: the project)')
    .option('--json', 'print the reports as JSON')
    .action(action(async (target: string | undefined, options: { json?: boolean }) => (await import('./commands/validate.js')).validateCommand(context, target, options)));

  program
    .command('run <name>')
    .description('run one agent; the input comes from --input, --input-file or stdin (default {})')
    .option('--input <json>', 'the input as JSON')
    .option('--input-file <file>', 'read the input JSON from a file')
    .option('--env <env>', 'environment (default: the global --env)')
    .option('--tenant <tenant>', 'tenant whose kv and records the run uses', 'default')
    .option('--json', 'print one line: {"ok","output","error","stats"}')
    .action(action(async (name: string, options: RunCommandOptions) => (await import('./commands/run.js')).runCommand(context, name, options)));

  // af dev: the edit-and-run loop (a long-lived dev factory, re-run on every save).
  program
    .command('dev <name>')
    .description('run one agent, then again on every save of its template folder with the same input; ctrl+c stops')
    .option('--input <json>', 'the input as JSON')
    .option('--input-file <file>', 'read the input JSON from a file')
    .option('--env <env>', 'a dev environment (default: the global --env)')
    .option('--tenant <tenant>', 'tenant whose kv and records the runs use', 'default')
    .option('--json', 'print one line per run: {"ok","version","digest","source","output","error","used","stats"}')
    .action(action(async (name: string, options: RunCommandOptions) => (await import('./commands/dev.js')).devCommand(context, name, options)));

  const templates = program.command('templates').description('list and inspect templates');
  templates
    .command('list', { isDefault: true })
    .description('list every template with its version and status')
    .option('--json', 'print as JSON')
    .action(action(async (options: { json?: boolean }) => (await import('./commands/templates.js')).listTemplatesCommand(context, options)));
  templates
    .command('show <name>')
    .description('show the resolved manifest and digest of a template')
    .option('--env <env>', 'environment to resolve for (default: the global --env)')
    .option('--json', 'print as JSON')
    .action(action(async (name: string, options: { json?: boolean; env?: string }) => (await import('./commands/templates.js')).showTemplateCommand(context, name, options)));

  const keys = program.command('keys').description('the signing keys: a local root authority and signer certificates');
  keys
    .command('init')
    .description('create the root certificate authority and a first signer (private keys in .af/keys, mode 0600)')
    .option('--json', 'print as JSON')
    .action(action(async (options: { json?: boolean }) => (await import('./commands/keys.js')).keysInitCommand(context, options)));
  keys
    .command('list', { isDefault: true })
    .description('list keys: id, subject, role, validity and status')
    .option('--json', 'print as JSON')
    .action(action(async (options: { json?: boolean }) => (await import('./commands/keys.js')).keysListCommand(context, options)));
  keys
    .command('create')
    .description('issue a new signer certificate')
    .requiredOption('--name <name>', 'the signer name (certificate common name)')
    .option('--json', 'print as JSON')
    .action(action(async (options: { name: string; json?: boolean }) => (await import('./commands/keys.js')).keysCreateCommand(context, options)));
  keys
    .command('rotate')
    .description('issue a new current signer; older ones stay valid until they expire')
    .option('--json', 'print as JSON')
    .action(action(async (options: { json?: boolean }) => (await import('./commands/keys.js')).keysRotateCommand(context, options)));
  keys
    .command('revoke <id>')
    .description('revoke a key at once, including verifications already cached')
    .option('--reason <reason>', 'why, for the record')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, options: { reason?: string; json?: boolean }) => (await import('./commands/keys.js')).keysRevokeCommand(context, id, options)));
  keys
    .command('verify')
    .description('check the keys, revocations and retirements in the database against the seal in .af/keys (and seal them the first time)')
    .option('--repair', 'put back the sealed rows: delete keys added without the keys folder, restore deleted or edited ones')
    .option('--adopt', 'seal the trust data as it is, after you reviewed it (a restored backup)')
    .option('--json', 'print as JSON')
    .action(action(async (options: { repair?: boolean; adopt?: boolean; json?: boolean }) => (await import('./commands/keys.js')).keysVerifyCommand(context, options)));

  const apiKeys = keys.command('api').description('API keys for `af serve`: one tenant and one role each; stored hashed');
  apiKeys
    .command('create')
    .description('create a key and print it once')
    .option('--tenant <tenant>', 'the tenant whose runs, kv and suggestions it reaches')
    .option('--installation', 'a key of the installation instead of a tenant: the only keys that may accept, roll back, retire or read the audit log over the API')
    .requiredOption('--role <role>', 'viewer, operator, maintainer or admin')
    .option('--label <label>', 'what it is for')
    .option('--json', 'print as JSON (includes the key)')
    .action(action(async (options: ApiKeysCreateOptions) => (await import('./commands/api-keys.js')).apiKeysCreateCommand(context, options)));
  apiKeys
    .command('list', { isDefault: true })
    .description('list keys (never the keys themselves)')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--json', 'print as JSON')
    .action(action(async (options: { tenant?: string; json?: boolean }) => (await import('./commands/api-keys.js')).apiKeysListCommand(context, options)));
  apiKeys
    .command('revoke <id>')
    .description('revoke a key at once')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, options: { json?: boolean }) => (await import('./commands/api-keys.js')).apiKeysRevokeCommand(context, id, options)));

  program
    .command('serve')
    .description('serve the HTTP API (/v1, /metrics, /v1/openapi.json) until Ctrl-C, SIGTERM or SIGHUP, then stop gracefully; logs one line per request')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', '7070')
    .option('--rate-limit <spec>', 'requests per window per key by role, e.g. viewer=300,operator=600; "off" disables')
    .option('--rate-window <ms>', 'rate-limit window in ms (default 60000)')
    .option('--body-limit <bytes>', 'largest request body (default 1048576)')
    .option('--allow-env <envs>', "comma-separated environments requests may name besides the server's own (--env); never a dev one on a server that is not dev")
    .option('--json', 'print {"url"} once listening')
    .option('--quiet', 'no line per request on stderr (method, path, status, ms, tenant)')
    .action(action(async (options: ServeCommandOptions) => (await import('./commands/serve.js')).serveCommand(context, options)));

  program
    .command('audit [dir]')
    .description("audit a project's package-lock.json in the sandbox, add npm audit, write a CycloneDX SBOM; exits 1 below --min-score")
    .option('--min-score <n>', 'fail below this score out of 100', '70')
    .option('--sbom <file>', 'where to write the CycloneDX SBOM (default: DIR/sbom.cdx.json)')
    .option('--skip-npm-audit', 'do not ask the registry for advisories')
    .option('--json', 'print the report as JSON')
    .action(action(async (dir: string | undefined, options: AuditCommandOptions) => (await import('./commands/audit.js')).auditCommand(context, dir, options)));

  program
    .command('demo')
    .description('run the bundled agents as a workload in temporary state, train the learner, print a summary')
    .option('--runs <n>', 'runs in the workload', '2000')
    .option('--seed <n>', 'workload seed', '1')
    .option('--json', 'print the summary as JSON')
    .action(action(async (options: DemoCommandOptions) => (await import('./commands/demo.js')).demoCommand(context, options)));

  program
    .command('bench [names...]')
    .description('run the benchmark suite (from a source checkout); writes BENCHMARKS.md')
    .option('--quick', 'small sample counts; writes benchmarks/results/quick.json only')
    .action(action(async (names: string[], options: { quick?: boolean }) => (await import('./commands/bench.js')).benchCommand(context, { ...(options.quick ? { quick: true } : {}), only: names })));

  program
    .command('sign [name]')
    .description('sign a template (or --all) with the current signer: writes agent.sig')
    .option('--all', 'sign every template')
    .option('--key <id>', 'sign with this key instead of the current signer')
    .option('--json', 'print as JSON')
    .action(action(async (name: string | undefined, options: { all?: boolean; key?: string; json?: boolean }) => (await import('./commands/sign.js')).signCommand(context, name, options)));
  program
    .command('verify [name]')
    .description('check the signature (and the policy of --env) of a template or --all; exits 3 on failure')
    .option('--all', 'verify every template')
    .option('--env <env>', 'environment whose policy applies (default: the global --env)')
    .option('--json', 'print as JSON')
    .action(action(async (name: string | undefined, options: { all?: boolean; env?: string; json?: boolean }) => (await import('./commands/sign.js')).verifyCommand(context, name, options)));

  program
    .command('metrics')
    .description("serve this process's Prometheus metrics on /metrics until Ctrl-C")
    .requiredOption('--port <port>', 'port (0 picks a free one)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--json', 'print {"url"} once listening')
    .action(action(async (options: MetricsCommandOptions) => (await import('./commands/metrics.js')).metricsCommand(context, options)));

  program
    .command('learn')
    .description('train on the run record and propose template changes (progress on stderr)')
    .option('--template <name...>', 'only these templates')
    .option('--json', 'print the result as JSON')
    .action(action(async (options: { template?: string[]; json?: boolean }) => (await import('./commands/learn.js')).learnCommand(context, options)));
  const suggestions = program.command('suggestions').description("review the learner's suggestions");
  suggestions
    .command('list', { isDefault: true })
    .description('open suggestions, best first (--all for every state)')
    .option('--template <name>', 'only this template')
    .option('--state <state>', 'open, accepted, rejected, canary, promoted or rolled_back')
    .option('--all', 'every state')
    .option('--json', 'print as JSON')
    .action(action(async (options: { template?: string; state?: string; all?: boolean; json?: boolean }) => (await import('./commands/learn.js')).suggestionsListCommand(context, options)));
  suggestions
    .command('show <id>')
    .description('the patch as a diff of agent.json, with its evidence')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, options: { json?: boolean }) => (await import('./commands/learn.js')).suggestionsShowCommand(context, id, options)));
  suggestions
    .command('accept <id>')
    .description('apply, bump the version, sign, and start a canary')
    .option('--reason <reason>', 'why, for the record')
    .option('--weight <share>', 'share of new agents the canary gets (default 0.1; 1 skips the canary)')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, options: { reason?: string; weight?: string; json?: boolean }) => (await import('./commands/learn.js')).suggestionsAcceptCommand(context, id, options)));
  suggestions
    .command('reject <id>')
    .description('reject with a reason; it returns only if its evidence changes materially')
    .requiredOption('--reason <reason>', 'why')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, options: { reason?: string; json?: boolean }) => (await import('./commands/learn.js')).suggestionsRejectCommand(context, id, options)));
  program
    .command('rollout <name>')
    .description('send a share of new agents to a recorded version (a canary)')
    .requiredOption('--candidate <version>', 'the version to try')
    .requiredOption('--weight <share>', 'share of new agents: 0.1 or 10 (percent)')
    .option('--json', 'print as JSON')
    .action(action(async (name: string, options: { candidate: string; weight: string; json?: boolean }) => (await import('./commands/learn.js')).rolloutCommand(context, name, options)));
  const versions = program.command('versions').description('recorded versions of a template, and retiring one');
  versions
    .command('list <name>', { isDefault: true })
    .description('recorded versions, oldest first: digest, signature, on disk, canary, retired')
    .option('--json', 'print as JSON')
    .action(action(async (name: string, options: { json?: boolean }) => (await import('./commands/versions.js')).versionsListCommand(context, name, options)));
  versions
    .command('retire <name> <version>')
    .description('withdraw a version: refused outside dev from now on (running servers included), never rolled back to; ends its canary')
    .option('--reason <reason>', 'why, for the record')
    .option('--json', 'print as JSON')
    .action(action(async (name: string, version: string, options: { reason?: string; json?: boolean }) => (await import('./commands/versions.js')).versionsRetireCommand(context, name, version, options)));

  program
    .command('rollback <name>')
    .description('restore a recorded version (default: the previous one) and end any canary')
    .option('--to <version>', 'the version to restore')
    .option('--json', 'print as JSON')
    .action(action(async (name: string, options: { to?: string; json?: boolean }) => (await import('./commands/learn.js')).rollbackCommand(context, name, options)));

  const runFilters = (command: Command) =>
    command
      .option('--template <name>', 'only this template')
      .option('--tenant <tenant>', 'only this tenant')
      .option('--outcome <outcome>', 'ok or error')
      .option('--since <when>', 'a duration ago (24h, 7d) or a date (2026-11-01)')
      .option('--json', 'print as JSON');
  const runs = program.command('runs').description('the run record: list runs (and follow new ones), show one in full, replay a captured one');
  runFilters(runs.command('list', { isDefault: true }).description('list recorded runs, newest first; IDs are the random end of each id'))
    .option('--limit <n>', 'at most this many (default 50; 10 with --follow)')
    .option('--full-ids', 'show whole run ids instead of their last 8 characters')
    .option('-f, --follow', 'then print new runs as they are recorded, until Ctrl-C (with --json: one JSON line per run)')
    .action(action(async (options: RunsOptions) => (await import('./commands/runs.js')).runsCommand(context, options)));
  runs
    .command('show <id>')
    .description('one run in full: stats, grants used, denials, error, version, digest, env, tenant, parent and children, captured input/output/logs (ID: the whole id or a unique start or end, at least 4 characters)')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, options: { json?: boolean }) => (await import('./commands/runs-show.js')).runsShowCommand(context, id, options)));
  runs
    .command('replay <id>')
    .description('run the captured input of a failed run again (templates with "debug": { "captureFailures": true }); exit status as af run')
    .option('--env <env>', 'environment (default: the run\'s)')
    .option('--tenant <tenant>', 'tenant (default: the run\'s; a replay uses its kv)')
    .option('--same-version', 'run the version the run had instead of the current one')
    .option('--json', 'print one line: {"ok","runId","replayOf","version","digest","output","error","stats"}')
    .action(action(async (id: string, options: ReplayOptions) => (await import('./commands/runs-replay.js')).runsReplayCommand(context, id, options)));
  runFilters(program.command('stats').description('per template: runs, error rate, p50/p95/p99 run time, heap')).action(
    action(async (options: RunsOptions) => (await import('./commands/runs.js')).statsCommand(context, options)),
  );

  const storeCommand = program.command('store').description('the SQLite store: backup, restore, prune, export');
  storeCommand
    .command('backup <file>')
    .description('a consistent copy of the store, safe while agents run')
    .option('--json', 'print as JSON')
    .action(action(async (file: string, options: { json?: boolean }) => (await import('./commands/store.js')).storeBackupCommand(context, file, options)));
  storeCommand
    .command('restore <file>')
    .description('replace the store with a backup that passes integrity_check, and re-anchor its audit log (stop other af processes first)')
    .option('--json', 'print as JSON')
    .action(action(async (file: string, options: { json?: boolean }) => (await import('./commands/store.js')).storeRestoreCommand(context, file, options)));
  storeCommand
    .command('prune')
    .description('delete runs older than a duration (with their captured data); the audit log is kept')
    .option('--older-than <duration>', 'runs older than this, e.g. 30d')
    .option('--captures-older-than <duration>', 'captured inputs, outputs and logs of failed runs older than this (they may hold secrets), e.g. 3d')
    .option('--json', 'print as JSON')
    .action(action(async (options: { olderThan?: string; capturesOlderThan?: string; json?: boolean }) => (await import('./commands/store.js')).storePruneCommand(context, options)));
  storeCommand
    .command('export <file>')
    .description('runs and audit log as zstd-compressed JSON lines (FILE.jsonl.zst)')
    .option('--json', 'print as JSON')
    .action(action(async (file: string, options: { json?: boolean }) => (await import('./commands/store.js')).storeExportCommand(context, file, options)));

  const auditLog = program.command('audit-log').description('the tamper-evident audit log');
  auditLog
    .command('verify')
    .description('check the hash chain and its anchor; names the first edited, deleted, reordered or cut-off entry (exit 3)')
    .option('--json', 'print as JSON')
    .action(action(async (options: { json?: boolean }) => (await import('./commands/store.js')).auditVerifyCommand(context, options)));
  auditLog
    .command('reanchor')
    .description('accept the log as it is now (after a restore, or damage looked into): recorded in the log, with the reason')
    .requiredOption('--reason <text>', 'why: kept in the log')
    .option('--json', 'print as JSON')
    .action(action(async (options: { reason?: string; json?: boolean }) => (await import('./commands/store.js')).auditReanchorCommand(context, options)));
  auditLog
    .command('list', { isDefault: true })
    .description('recent entries, newest first')
    .option('--type <type>', 'only this type, e.g. permission.denied')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--json', 'print as JSON')
    .action(action(async (options: { type?: string; limit?: string; json?: boolean }) => (await import('./commands/store.js')).auditListCommand(context, options)));

  program
    .command('completion')
    .description('print the completion script for bash, zsh or fish')
    .addArgument(program.createArgument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', '\nInstall:\n  bash  echo \'source <(af completion bash)\' >> ~/.bashrc\n  zsh   echo \'source <(af completion zsh)\' >> ~/.zshrc\n  fish  af completion fish > ~/.config/fish/completions/af.fish')
    .action(action(async (shell: 'bash' | 'zsh' | 'fish') => (await import('./commands/completion.js')).completionCommand(context, program, shell)));

  if (argv.length === 0) {
    try {
      const { countRuns, startAction } = await import('./start.js');
      const start = startAction({
        isTerminal: streams.stdin.isTTY === true && streams.stdout.isTTY === true,
        isNpmStart: streams.env.npm_lifecycle_event === 'start',
        projectRuns: () => countRuns(context.config().dbPath),
      });
      if (start === 'help') {
        streams.stdout.write(program.helpInformation());
        return EXIT.ok;
      }
      if (start === 'tui') return await (await import('./commands/tui.js')).tuiCommand(context);
      const demo = await import('./commands/demo.js');
      if (start === 'demo-summary') return await demo.demoCommand(context, {});
      streams.stderr.write('no runs in this project yet: opening the UI on demo data (the bundled agents as a workload, in a temporary state removed when the UI closes)\n');
      const state = await demo.prepareDemoState(context, {});
      try {
        return await (await import('./commands/tui.js')).tuiCommand(context, { state });
      } finally {
        demo.removeDemoState(state);
      }
    } catch (error) {
      return reportFailure(context, toFactoryError(error), false);
    }
  }

  let sdk: TelemetrySdk | undefined;
  // The OpenTelemetry SDK is imported only when asked for, so a plain run pays nothing for it.
  program.hook('preAction', async (_root, actionCommand) => {
    await checkEnvironments(context, program.opts<GlobalOptions>().env, actionCommand);
    sdk = await enableTelemetry({ ...(program.opts<GlobalOptions>().otel ? { enabled: true } : {}), env: streams.env, logger: context.logger });
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    return reportFailure(context, toFactoryError(error), isJson);
  } finally {
    await sdk?.shutdown();
  }
  return status;
}

/**
 * Refuses an environment the project does not know (`--env stagign`) where one is used: the global `--env` when given,
 * a command's own `--env`, `AF_ENV` for commands that take an environment, and `af serve --allow-env`.
 */
async function checkEnvironments(context: CommandContext, globalEnv: string | undefined, command: Command): Promise<void> {
  const own = command.opts<{ env?: string; allowEnv?: string }>();
  const takesEnv = command.options.some((option) => option.long === '--env') || command.name() === 'serve';
  const given: Array<[string, string]> = [];
  if (globalEnv !== undefined) given.push([globalEnv, '--env']);
  if (own.env !== undefined) given.push([own.env, '--env']);
  if (takesEnv && globalEnv === undefined && own.env === undefined && context.streams.env.AF_ENV !== undefined) given.push([context.streams.env.AF_ENV, 'AF_ENV']);
  if (command.name() === 'serve' && own.allowEnv !== undefined) {
    for (const env of own.allowEnv.split(',').map((part) => part.trim()).filter((part) => part !== '')) given.push([env, '--allow-env']);
  }
  if (given.length === 0) return;
  const { checkEnvironment } = await import('./environments.js');
  for (const [env, where] of given) checkEnvironment(() => context.config(), env, where);
}

function reportFailure(context: CommandContext, error: FactoryError, isJson: boolean): number {
  // One line, like `af run --json`, so scripts can read the last line of stdout either way.
  if (isJson) context.streams.stdout.write(`${terminalSafeJson(JSON.stringify({ ok: false, error: error.toJSON() }))}\n`);
  printError(context.streams, error, context.errPaint);
  if (error.code === 'E_INTERNAL' && error.cause instanceof Error && context.streams.env.AF_DEBUG) {
    context.streams.stderr.write(`${escapeControl(error.cause.stack ?? '')}\n`);
  }
  return exitStatusFor(error.code);
}
