/** @module cli/command-table — every `af` command as data: its name and arguments, description, options, and the handler that imports its module. */
import type { Command } from 'commander';
import type { ApiKeysCreateOptions } from './commands/api-keys.js';
import type { AuditCommandOptions } from './commands/audit.js';
import type { DemoCommandOptions } from './commands/demo.js';
import type { MetricsCommandOptions } from './commands/metrics.js';
import type { NewCommandOptions } from './commands/new-agent.js';
import type { RunCommandOptions } from './commands/run.js';
import type { RunsOptions } from './commands/runs.js';
import type { ReplayOptions } from './commands/runs-replay.js';
import type { MigrateCommandOptions } from './commands/migrate.js';
import type { RunnerCommandOptions } from './commands/runner.js';
import type { ServeCommandOptions } from './commands/serve.js';
import type { CommandContext } from './context.js';

// Each handler imports its command's module when that command runs: `af --help` or `af run` then never loads the
// learner (TensorFlow.js), the HTTP server or the terminal UI, which cost hundreds of milliseconds each to import.

/** One option, as commander takes it: `.option(flags, description, defaultValue)` or `.requiredOption(…)`. */
export interface OptionSpec {
  flags: string;
  description: string;
  defaultValue?: string;
  /** Declared with `requiredOption`: commander refuses the command line without it. */
  required?: boolean;
}

/** An argument declared on its own rather than in the name, for what the name cannot say (its choices). */
export interface ArgumentSpec {
  name: string;
  description: string;
  choices?: readonly string[];
}

/** What a handler is given besides the parsed arguments: the command context, and the program (for `af completion`). */
export interface HandlerEnvironment {
  context: CommandContext;
  program: Command;
}

/** Runs a command with commander's parsed values (its arguments in order, then its options); resolves with the exit status. */
export type CommandHandler = (environment: HandlerEnvironment, parsed: unknown[]) => Promise<number>;

export interface CommandSpec {
  /** The name, then its arguments in commander's syntax: `run <name>`, `bench [names...]`, `versions retire <name> <version>`. */
  name: string;
  description: string;
  /** The subcommand run when its parent is given alone (`af keys` is `af keys list`). */
  isDefault?: boolean;
  arguments?: readonly ArgumentSpec[];
  options?: readonly OptionSpec[];
  /** Help text printed after the generated help. */
  helpAfter?: string;
  /** Absent on a group (`keys`, `store`) whose subcommands do the work. */
  handler?: CommandHandler;
  subcommands?: readonly CommandSpec[];
}

/**
 * A handler typed by what its command declares. Commander hands values over untyped; the parameter types here state what
 * the command's arguments and options are (strings, booleans, variadic arrays), as commander parses them.
 */
function handler<A extends unknown[]>(run: (environment: HandlerEnvironment, ...parsed: A) => Promise<number>): CommandHandler {
  return (environment, parsed) => run(environment, ...(parsed as A));
}

const json = (description: string): OptionSpec => ({ flags: '--json', description });
const AS_JSON = json('print as JSON');

export const PROGRAM_DESCRIPTION = 'Agent Factory: run signed agents in isolated sandboxes';

/** Options of `af` itself, accepted before or after any command. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { flags: '--root <dir>', description: 'project root holding agents/ (default: the current folder, or $AF_ROOT)' },
  { flags: '--env <env>', description: 'environment whose overlay applies (default: $AF_ENV or dev)' },
  { flags: '--store <url>', description: 'where runs, kv, versions and keys are kept: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB (default: $AF_STORE_URL, else .af/factory.db)' },
  { flags: '--otel', description: 'turn OpenTelemetry on (also via OTEL_* variables; OTEL_SDK_DISABLED=true turns it off)' },
];

const RUN_FILTERS: readonly OptionSpec[] = [
  { flags: '--template <name>', description: 'only this template' },
  { flags: '--tenant <tenant>', description: 'only this tenant' },
  { flags: '--outcome <outcome>', description: 'ok or error' },
  { flags: '--since <when>', description: 'a duration ago (24h, 7d) or a date (2026-11-01)' },
  AS_JSON,
];

/** The commands of `af`, in the order help lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'init [dir]',
    description: 'start a project: agents/example, policy.json, tsconfig.json, the .af/ state folder kept out of git (never overwrites)',
    options: [{ flags: '--keys', description: 'also create a signing key pair (.af/keys) and sign the example, so it runs outside dev' }],
    handler: handler(async ({ context }, dir: string | undefined, options: { keys?: boolean }) => (await import('./commands/init.js')).initCommand(context, dir, options)),
  },
  {
    name: 'new <name>',
    description: 'start an agent in agents/NAME: agent.json and main.ts (typed with agent-factory/agent), or a copy of --from (never overwrites)',
    options: [
      { flags: '--from <template>', description: 'copy this template (a name, or a folder) with the name changed; an abstract one is extended instead' },
      json('print {"name","dir","files"} as JSON'),
    ],
    handler: handler(async ({ context }, name: string, options: NewCommandOptions) => (await import('./commands/new-agent.js')).newCommand(context, name, options)),
  },
  {
    name: 'doctor',
    description: 'what this machine gives the sandbox: Node, isolated-vm (patched?), each host lockdown layer and why it is off, store, keys, policy; exits 1 outside dev when something is missing',
    options: [json('print the report as JSON')],
    handler: handler(async ({ context }, options: { json?: boolean }) => (await import('./commands/doctor.js')).doctorCommand(context, options)),
  },
  {
    name: 'validate [path]',
    description: 'check templates: a template folder, an agents folder or a project (default: the project)',
    options: [json('print the reports as JSON')],
    handler: handler(async ({ context }, target: string | undefined, options: { json?: boolean }) => (await import('./commands/validate.js')).validateCommand(context, target, options)),
  },
  {
    name: 'run <name>',
    description: 'run one agent; the input comes from --input, --input-file or stdin (default {})',
    options: [
      { flags: '--input <json>', description: 'the input as JSON' },
      { flags: '--input-file <file>', description: 'read the input JSON from a file' },
      { flags: '--env <env>', description: 'environment (default: the global --env)' },
      { flags: '--tenant <tenant>', description: 'tenant whose kv and records the run uses', defaultValue: 'default' },
      json('print one line: {"ok","output","error","stats"}'),
    ],
    handler: handler(async ({ context }, name: string, options: RunCommandOptions) => (await import('./commands/run.js')).runCommand(context, name, options)),
  },
  {
    // af dev: the edit-and-run loop (a long-lived dev factory, re-run on every save).
    name: 'dev <name>',
    description: 'run one agent, then again on every save of its template folder with the same input; ctrl+c stops',
    options: [
      { flags: '--input <json>', description: 'the input as JSON' },
      { flags: '--input-file <file>', description: 'read the input JSON from a file' },
      { flags: '--env <env>', description: 'a dev environment (default: the global --env)' },
      { flags: '--tenant <tenant>', description: 'tenant whose kv and records the runs use', defaultValue: 'default' },
      json('print one line per run: {"ok","version","digest","source","output","error","used","stats"}'),
    ],
    handler: handler(async ({ context }, name: string, options: RunCommandOptions) => (await import('./commands/dev.js')).devCommand(context, name, options)),
  },
  {
    name: 'templates',
    description: 'list and inspect templates',
    subcommands: [
      {
        name: 'list',
        isDefault: true,
        description: 'list every template with its version and status',
        options: [AS_JSON],
        handler: handler(async ({ context }, options: { json?: boolean }) => (await import('./commands/templates.js')).listTemplatesCommand(context, options)),
      },
      {
        name: 'show <name>',
        description: 'show the resolved manifest and digest of a template',
        options: [{ flags: '--env <env>', description: 'environment to resolve for (default: the global --env)' }, AS_JSON],
        handler: handler(async ({ context }, name: string, options: { json?: boolean; env?: string }) => (await import('./commands/templates.js')).showTemplateCommand(context, name, options)),
      },
    ],
  },
  {
    name: 'keys',
    description: 'the signing keys: a local root authority and signer certificates',
    subcommands: [
      {
        name: 'init',
        description: 'create the root certificate authority and a first signer (private keys in .af/keys, mode 0600)',
        options: [AS_JSON],
        handler: handler(async ({ context }, options: { json?: boolean }) => (await import('./commands/keys.js')).keysInitCommand(context, options)),
      },
      {
        name: 'list',
        isDefault: true,
        description: 'list keys: id, subject, role, validity and status',
        options: [AS_JSON],
        handler: handler(async ({ context }, options: { json?: boolean }) => (await import('./commands/keys.js')).keysListCommand(context, options)),
      },
      {
        name: 'create',
        description: 'issue a new signer certificate',
        options: [{ flags: '--name <name>', description: 'the signer name (certificate common name)', required: true }, AS_JSON],
        handler: handler(async ({ context }, options: { name: string; json?: boolean }) => (await import('./commands/keys.js')).keysCreateCommand(context, options)),
      },
      {
        name: 'rotate',
        description: 'issue a new current signer; older ones stay valid until they expire',
        options: [AS_JSON],
        handler: handler(async ({ context }, options: { json?: boolean }) => (await import('./commands/keys.js')).keysRotateCommand(context, options)),
      },
      {
        name: 'revoke <id>',
        description: 'revoke a key at once, including verifications already cached',
        options: [{ flags: '--reason <reason>', description: 'why, for the record' }, AS_JSON],
        handler: handler(async ({ context }, id: string, options: { reason?: string; json?: boolean }) => (await import('./commands/keys.js')).keysRevokeCommand(context, id, options)),
      },
      {
        name: 'verify',
        description: 'check the keys, revocations and retirements in the database against the seal in .af/keys (and seal them the first time)',
        options: [
          { flags: '--repair', description: 'put back the sealed rows: delete keys added without the keys folder, restore deleted or edited ones' },
          { flags: '--adopt', description: 'seal the trust data as it is, after you reviewed it (a restored backup)' },
          AS_JSON,
        ],
        handler: handler(async ({ context }, options: { repair?: boolean; adopt?: boolean; json?: boolean }) => (await import('./commands/keys.js')).keysVerifyCommand(context, options)),
      },
      {
        name: 'api',
        description: 'API keys for `af serve`: one tenant and one role each; stored hashed',
        subcommands: [
          {
            name: 'create',
            description: 'create a key and print it once',
            options: [
              { flags: '--tenant <tenant>', description: 'the tenant whose runs, kv and suggestions it reaches' },
              { flags: '--installation', description: 'a key of the installation instead of a tenant: the only keys that may accept, roll back, retire or read the audit log over the API' },
              { flags: '--role <role>', description: 'viewer, operator, maintainer or admin', required: true },
              { flags: '--label <label>', description: 'what it is for' },
              json('print as JSON (includes the key)'),
            ],
            handler: handler(async ({ context }, options: ApiKeysCreateOptions) => (await import('./commands/api-keys.js')).apiKeysCreateCommand(context, options)),
          },
          {
            name: 'list',
            isDefault: true,
            description: 'list keys (never the keys themselves)',
            options: [{ flags: '--tenant <tenant>', description: 'only this tenant' }, AS_JSON],
            handler: handler(async ({ context }, options: { tenant?: string; json?: boolean }) => (await import('./commands/api-keys.js')).apiKeysListCommand(context, options)),
          },
          {
            name: 'revoke <id>',
            description: 'revoke a key at once',
            options: [AS_JSON],
            handler: handler(async ({ context }, id: string, options: { json?: boolean }) => (await import('./commands/api-keys.js')).apiKeysRevokeCommand(context, id, options)),
          },
        ],
      },
    ],
  },
  {
    name: 'serve',
    description: 'serve the HTTP API (/v1, /metrics, /v1/openapi.json) until Ctrl-C, SIGTERM or SIGHUP, then stop gracefully; logs one line per request',
    options: [
      { flags: '--host <host>', description: 'interface to listen on', defaultValue: '127.0.0.1' },
      { flags: '--port <port>', description: 'port (0 picks a free one)', defaultValue: '7070' },
      { flags: '--rate-limit <spec>', description: 'requests per window per key by role, e.g. viewer=300,operator=600; "off" disables' },
      { flags: '--rate-window <ms>', description: 'rate-limit window in ms (default 60000)' },
      { flags: '--body-limit <bytes>', description: 'largest request body (default 1048576)' },
      { flags: '--allow-env <envs>', description: "comma-separated environments requests may name besides the server's own (--env); never a dev one on a server that is not dev" },
      json('print {"url"} once listening'),
      { flags: '--quiet', description: 'no line per request on stderr (method, path, status, ms, tenant)' },
      { flags: '--run-here', description: 'on a PostgreSQL store, run agents in this process instead of queuing them for `af runner` processes' },
    ],
    handler: handler(async ({ context }, options: ServeCommandOptions) => (await import('./commands/serve.js')).serveCommand(context, options)),
  },
  {
    name: 'runner',
    description: 'take runs from the run queue of a PostgreSQL store (--store or $AF_STORE_URL) and run them, until Ctrl-C or SIGTERM; then finish the runs in hand',
    options: [
      { flags: '--concurrency <n>', description: 'runs at once (default: the number of CPU cores)' },
      { flags: '--lease-ms <ms>', description: 'how long a claimed run is held without renewal; a runner that stops for longer loses it to another (default 5000)' },
      { flags: '--allow-env <envs>', description: "comma-separated environments queued runs may name besides the runner's own (--env)" },
      { flags: '--metrics-port <port>', description: 'serve Prometheus metrics (queue depth, claim latency, outcomes, lost leases, reaper; and the runs) on 127.0.0.1:PORT/metrics' },
      { flags: '--tenant-cap <n>', description: "at most this many runs of one tenant running at once across the fleet: a tenant at its cap waits while others' runs are taken (default: no cap)" },
      json('print {"runner"} once taking runs, and the final counts as JSON when stopped'),
    ],
    handler: handler(async ({ context }, options: RunnerCommandOptions) => (await import('./commands/runner.js')).runnerCommand(context, options)),
  },
  {
    name: 'migrate',
    description: "bring the store's schema up to date (PostgreSQL: under a lock, so it is safe while other nodes start); --check only says whether it is",
    options: [{ flags: '--check', description: 'change nothing: exit 1 when the schema is behind' }, AS_JSON],
    handler: handler(async ({ context }, options: MigrateCommandOptions) => (await import('./commands/migrate.js')).migrateCommand(context, options)),
  },
  {
    name: 'audit [dir]',
    description: "audit a project's package-lock.json in the sandbox, add npm audit, write a CycloneDX SBOM; exits 1 below --min-score",
    options: [
      { flags: '--min-score <n>', description: 'fail below this score out of 100', defaultValue: '70' },
      { flags: '--sbom <file>', description: 'where to write the CycloneDX SBOM (default: DIR/sbom.cdx.json)' },
      { flags: '--skip-npm-audit', description: 'do not ask the registry for advisories' },
      json('print the report as JSON'),
    ],
    handler: handler(async ({ context }, dir: string | undefined, options: AuditCommandOptions) => (await import('./commands/audit.js')).auditCommand(context, dir, options)),
  },
  {
    name: 'demo',
    description: 'run the bundled agents as a workload in temporary state, train the learner, print a summary',
    options: [
      { flags: '--runs <n>', description: 'runs in the workload', defaultValue: '2000' },
      { flags: '--seed <n>', description: 'workload seed', defaultValue: '1' },
      json('print the summary as JSON'),
    ],
    handler: handler(async ({ context }, options: DemoCommandOptions) => (await import('./commands/demo.js')).demoCommand(context, options)),
  },
  {
    name: 'bench [names...]',
    description: 'run the benchmark suite (from a source checkout); writes BENCHMARKS.md',
    options: [{ flags: '--quick', description: 'small sample counts; writes benchmarks/results/quick.json only' }],
    handler: handler(async ({ context }, names: string[], options: { quick?: boolean }) =>
      (await import('./commands/bench.js')).benchCommand(context, { ...(options.quick ? { quick: true } : {}), only: names }),
    ),
  },
  {
    name: 'sign [name]',
    description: 'sign a template (or --all) with the current signer: writes agent.sig',
    options: [
      { flags: '--all', description: 'sign every template' },
      { flags: '--key <id>', description: 'sign with this key instead of the current signer' },
      AS_JSON,
    ],
    handler: handler(async ({ context }, name: string | undefined, options: { all?: boolean; key?: string; json?: boolean }) => (await import('./commands/sign.js')).signCommand(context, name, options)),
  },
  {
    name: 'verify [name]',
    description: 'check the signature (and the policy of --env) of a template or --all; exits 3 on failure',
    options: [
      { flags: '--all', description: 'verify every template' },
      { flags: '--env <env>', description: 'environment whose policy applies (default: the global --env)' },
      AS_JSON,
    ],
    handler: handler(async ({ context }, name: string | undefined, options: { all?: boolean; env?: string; json?: boolean }) => (await import('./commands/sign.js')).verifyCommand(context, name, options)),
  },
  {
    name: 'metrics',
    description: "serve this process's Prometheus metrics on /metrics until Ctrl-C",
    options: [
      { flags: '--port <port>', description: 'port (0 picks a free one)', required: true },
      { flags: '--host <host>', description: 'interface to listen on', defaultValue: '127.0.0.1' },
      json('print {"url"} once listening'),
    ],
    handler: handler(async ({ context }, options: MetricsCommandOptions) => (await import('./commands/metrics.js')).metricsCommand(context, options)),
  },
  {
    name: 'learn',
    description: 'train on the run record and propose template changes (progress on stderr)',
    options: [{ flags: '--template <name...>', description: 'only these templates' }, json('print the result as JSON')],
    handler: handler(async ({ context }, options: { template?: string[]; json?: boolean }) => (await import('./commands/learn.js')).learnCommand(context, options)),
  },
  {
    name: 'suggestions',
    description: "review the learner's suggestions",
    subcommands: [
      {
        name: 'list',
        isDefault: true,
        description: 'open suggestions, best first (--all for every state)',
        options: [
          { flags: '--template <name>', description: 'only this template' },
          { flags: '--state <state>', description: 'open, accepted, rejected, canary, promoted or rolled_back' },
          { flags: '--all', description: 'every state' },
          AS_JSON,
        ],
        handler: handler(async ({ context }, options: { template?: string; state?: string; all?: boolean; json?: boolean }) => (await import('./commands/learn.js')).suggestionsListCommand(context, options)),
      },
      {
        name: 'show <id>',
        description: 'the patch as a diff of agent.json, with its evidence',
        options: [AS_JSON],
        handler: handler(async ({ context }, id: string, options: { json?: boolean }) => (await import('./commands/learn.js')).suggestionsShowCommand(context, id, options)),
      },
      {
        name: 'accept <id>',
        description: 'apply, bump the version, sign, and start a canary',
        options: [
          { flags: '--reason <reason>', description: 'why, for the record' },
          { flags: '--weight <share>', description: 'share of new agents the canary gets (default 0.1; 1 skips the canary)' },
          AS_JSON,
        ],
        handler: handler(async ({ context }, id: string, options: { reason?: string; weight?: string; json?: boolean }) => (await import('./commands/learn.js')).suggestionsAcceptCommand(context, id, options)),
      },
      {
        name: 'reject <id>',
        description: 'reject with a reason; it returns only if its evidence changes materially',
        options: [{ flags: '--reason <reason>', description: 'why', required: true }, AS_JSON],
        handler: handler(async ({ context }, id: string, options: { reason?: string; json?: boolean }) => (await import('./commands/learn.js')).suggestionsRejectCommand(context, id, options)),
      },
    ],
  },
  {
    name: 'rollout <name>',
    description: 'send a share of new agents to a recorded version (a canary)',
    options: [
      { flags: '--candidate <version>', description: 'the version to try', required: true },
      { flags: '--weight <share>', description: 'share of new agents: 0.1 or 10 (percent)', required: true },
      AS_JSON,
    ],
    handler: handler(async ({ context }, name: string, options: { candidate: string; weight: string; json?: boolean }) => (await import('./commands/learn.js')).rolloutCommand(context, name, options)),
  },
  {
    name: 'versions',
    description: 'recorded versions of a template, and retiring one',
    subcommands: [
      {
        name: 'list <name>',
        isDefault: true,
        description: 'recorded versions, oldest first: digest, signature, on disk, canary, retired',
        options: [AS_JSON],
        handler: handler(async ({ context }, name: string, options: { json?: boolean }) => (await import('./commands/versions.js')).versionsListCommand(context, name, options)),
      },
      {
        name: 'retire <name> <version>',
        description: 'withdraw a version: refused outside dev from now on (running servers included), never rolled back to; ends its canary',
        options: [{ flags: '--reason <reason>', description: 'why, for the record' }, AS_JSON],
        handler: handler(async ({ context }, name: string, version: string, options: { reason?: string; json?: boolean }) => (await import('./commands/versions.js')).versionsRetireCommand(context, name, version, options)),
      },
    ],
  },
  {
    name: 'rollback <name>',
    description: 'restore a recorded version (default: the previous one) and end any canary',
    options: [{ flags: '--to <version>', description: 'the version to restore' }, AS_JSON],
    handler: handler(async ({ context }, name: string, options: { to?: string; json?: boolean }) => (await import('./commands/learn.js')).rollbackCommand(context, name, options)),
  },
  {
    name: 'runs',
    description: 'the run record: list runs (and follow new ones), show one in full, replay a captured one',
    subcommands: [
      {
        name: 'list',
        isDefault: true,
        description: 'list recorded runs, newest first; IDs are the random end of each id',
        options: [
          ...RUN_FILTERS,
          { flags: '--limit <n>', description: 'at most this many (default 50; 10 with --follow)' },
          { flags: '--full-ids', description: 'show whole run ids instead of their last 8 characters' },
          { flags: '-f, --follow', description: 'then print new runs as they are recorded, until Ctrl-C (with --json: one JSON line per run)' },
        ],
        handler: handler(async ({ context }, options: RunsOptions) => (await import('./commands/runs.js')).runsCommand(context, options)),
      },
      {
        name: 'show <id>',
        description:
          'one run in full: stats, grants used, denials, error, version, digest, env, tenant, parent and children, captured input/output/logs (ID: the whole id or a unique start or end, at least 4 characters)',
        options: [AS_JSON],
        handler: handler(async ({ context }, id: string, options: { json?: boolean }) => (await import('./commands/runs-show.js')).runsShowCommand(context, id, options)),
      },
      {
        name: 'replay <id>',
        description: 'run the captured input of a failed run again (templates with "debug": { "captureFailures": true }); exit status as af run',
        options: [
          { flags: '--env <env>', description: "environment (default: the run's)" },
          { flags: '--tenant <tenant>', description: "tenant (default: the run's; a replay uses its kv)" },
          { flags: '--same-version', description: 'run the version the run had instead of the current one' },
          json('print one line: {"ok","runId","replayOf","version","digest","output","error","stats"}'),
        ],
        handler: handler(async ({ context }, id: string, options: ReplayOptions) => (await import('./commands/runs-replay.js')).runsReplayCommand(context, id, options)),
      },
    ],
  },
  {
    name: 'stats',
    description: 'per template: runs, error rate, p50/p95/p99 run time, heap',
    options: RUN_FILTERS,
    handler: handler(async ({ context }, options: RunsOptions) => (await import('./commands/runs.js')).statsCommand(context, options)),
  },
  {
    name: 'store',
    description: 'the SQLite store: backup, restore, prune, export, migrate-to PostgreSQL',
    subcommands: [
      {
        name: 'backup <file>',
        description: 'a consistent copy of the store, safe while agents run',
        options: [AS_JSON],
        handler: handler(async ({ context }, file: string, options: { json?: boolean }) => (await import('./commands/store.js')).storeBackupCommand(context, file, options)),
      },
      {
        name: 'restore <file>',
        description: 'replace the store with a backup that passes integrity_check, and re-anchor its audit log (stop other af processes first)',
        options: [AS_JSON],
        handler: handler(async ({ context }, file: string, options: { json?: boolean }) => (await import('./commands/store.js')).storeRestoreCommand(context, file, options)),
      },
      {
        name: 'prune',
        description: 'delete runs older than a duration (with their captured data); the audit log is kept',
        options: [
          { flags: '--older-than <duration>', description: 'runs older than this, e.g. 30d' },
          { flags: '--captures-older-than <duration>', description: 'captured inputs, outputs and logs of failed runs older than this (they may hold secrets), e.g. 3d' },
          AS_JSON,
        ],
        handler: handler(async ({ context }, options: { olderThan?: string; capturesOlderThan?: string; json?: boolean }) => (await import('./commands/store.js')).storePruneCommand(context, options)),
      },
      {
        name: 'export <file>',
        description: 'runs and audit log as zstd-compressed JSON lines (FILE.jsonl.zst)',
        options: [AS_JSON],
        handler: handler(async ({ context }, file: string, options: { json?: boolean }) => (await import('./commands/store.js')).storeExportCommand(context, file, options)),
      },
      {
        name: 'migrate-to <url>',
        description: 'copy this SQLite store into an empty PostgreSQL database (postgres://…) in one transaction, verified before it commits',
        options: [AS_JSON],
        handler: handler(async ({ context }, url: string, options: { json?: boolean }) => (await import('./commands/store-migrate-to.js')).storeMigrateToCommand(context, url, options)),
      },
    ],
  },
  {
    name: 'audit-log',
    description: 'the tamper-evident audit log',
    subcommands: [
      {
        name: 'verify',
        description: 'check the hash chain and its anchor; names the first edited, deleted, reordered or cut-off entry (exit 3)',
        options: [AS_JSON],
        handler: handler(async ({ context }, options: { json?: boolean }) => (await import('./commands/store.js')).auditVerifyCommand(context, options)),
      },
      {
        name: 'reanchor',
        description: 'accept the log as it is now (after a restore, or damage looked into): recorded in the log, with the reason',
        options: [{ flags: '--reason <text>', description: 'why: kept in the log', required: true }, AS_JSON],
        handler: handler(async ({ context }, options: { reason?: string; json?: boolean }) => (await import('./commands/store.js')).auditReanchorCommand(context, options)),
      },
      {
        name: 'list',
        isDefault: true,
        description: 'recent entries, newest first',
        options: [
          { flags: '--type <type>', description: 'only this type, e.g. permission.denied' },
          { flags: '--limit <n>', description: 'at most this many (default 50)' },
          AS_JSON,
        ],
        handler: handler(async ({ context }, options: { type?: string; limit?: string; json?: boolean }) => (await import('./commands/store.js')).auditListCommand(context, options)),
      },
    ],
  },
  {
    name: 'completion',
    description: 'print the completion script for bash, zsh or fish',
    arguments: [{ name: '<shell>', description: 'bash, zsh or fish', choices: ['bash', 'zsh', 'fish'] }],
    helpAfter:
      "\nInstall:\n  bash  echo 'source <(af completion bash)' >> ~/.bashrc\n  zsh   echo 'source <(af completion zsh)' >> ~/.zshrc\n  fish  af completion fish > ~/.config/fish/completions/af.fish",
    handler: handler(async ({ context, program }, shell: 'bash' | 'zsh' | 'fish') => (await import('./commands/completion.js')).completionCommand(context, program, shell)),
  },
];
