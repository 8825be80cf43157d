/** @module runtime/factory — createFactory and AgentFactory: wires templates, sandbox and run sink into createAgent and run. */
import type { Awaitable } from '../core/awaitable.js';
import { BackgroundWrites } from '../core/background-writes.js';
import { type Clock, systemClock } from '../core/clock.js';
import { resolveConfig, type ResolvedConfig } from '../core/config.js';
import { FactoryError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { RunSink } from '../core/run-record.js';
import { createMemoryKvStore, createSandbox, type KvStore, lockdownReport, missingLayersWarning, type Sandbox, type SpawnRequest, warnIfIsolateLibraryUnpatched } from '../sandbox/index.js';
import { connectStore, openStore, parseStoreLocation, type Store, TrustSeal } from '../store/index.js';
import { isTrusted, openProjectTrust, type ProjectTrust, TemplateRegistry, type TrustAuditEvent, type TrustedTemplate, TrustGate, trustFileOf, type TrustStore, versionFilesOf, vouchesForStoredVersion } from '../templates/index.js';
import { Agent, type AgentRunOptions, type RunOrigin, type RunReport, type RunStats } from './agent.js';
import { DenialAudit } from './denial-audit.js';
import { RolloutRouter } from './rollout-router.js';
import { createMemoryRunSink } from './memory-run-sink.js';
import { createTelemetry, type Telemetry } from './telemetry/index.js';
import { Dispatcher } from './dispatcher.js';
import { dispatchBackendOf } from './fleet.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';

export interface FactoryOptions {
  /** Project root holding `agents/`. @default process.cwd() */
  root?: string;
  /** Default environment for `createAgent`. @default $AF_ENV, else 'dev' */
  env?: string;
  /** State folder. @default $AF_HOME, else `<root>/.af` */
  home?: string;
  /** Where sandboxes run: `process` (sandbox host processes) or `inline` (this process; trusted templates only). @default 'process' */
  isolation?: 'process' | 'inline';
  /** Sandbox host processes. @default the number of CPU cores */
  hosts?: number;
  /** Resident-memory cap per sandbox host, MB. @default 1024 */
  hostMemoryMb?: number;
  /** One run in this many, per isolate, gets the per-run memory figure (`heapGrowthBytes`); 1: every run. @default 8 */
  heapProbeEvery?: number;
  /** The operating-system lockdown of sandbox hosts (see sandbox/lockdown): `auto` applies every layer the machine supports, `off` none. @default 'auto' */
  lockdown?: 'auto' | 'off';
  /**
   * Refuse to start when a lockdown layer is missing, instead of warning (outside dev environments) and going on.
   * @default true when $AF_REQUIRE_LOCKDOWN is `1`, else false
   */
  requireLockdown?: boolean;
  /**
   * The store that records runs, kv, versions, keys and the audit log: an open {@link Store} (not closed by the
   * factory), a location (a SQLite path or `sqlite:PATH`; `postgres://…` through {@link createFactory}, which opens it
   * and has the factory close it), or `false` for none (runs kept in memory).
   * @default $AF_STORE_URL, else `<home>/factory.db`
   */
  store?: Store | string | false;
  /** Receives a record of every run. @default the store's batched writer, else an in-memory ring */
  runSink?: RunSink;
  /** Backs `ctx.kv`. @default the store's kv, else in memory */
  kv?: KvStore;
  /**
   * Reload templates when their files change (hot reload). In a dev environment (`devEnvironments`) the code on disk
   * is what runs, so a long-lived factory watches by default; elsewhere a signed version runs and an edit needs `af sign`.
   * @default true when `env` is a dev environment, else false
   */
  watch?: boolean;
  /** Templates to resolve and warm up in the sandbox before `createFactory` resolves: names, or `true` for all. @default none */
  prewarm?: boolean | string[];
  /** Trusted roots, signers and revocations. @default `.af/trust.json` of the project */
  trustStore?: TrustStore;
  /** Environments that may run unsigned templates (with a warning and an audit record). @default ['dev'] */
  devEnvironments?: string[];
  /** Receives every trust decision worth auditing (waived or rejected signatures, policy denials). */
  onAudit?(event: TrustAuditEvent): void;
  /** What `ctx.env.get` reads after the allowlist check. @default process.env */
  processEnv?: Record<string, string | undefined>;
  /**
   * Run through the run queue (a PostgreSQL store only): `run` and `runSettled` queue each run for the fleet's
   * `af runner` processes and wait for its result (up to `waitMs`, default 60 s, then `E_TIMEOUT`) instead of running it
   * here, as `af serve` does. `createAgent` still runs here. @default false
   */
  dispatch?: boolean | { waitMs?: number };
  logger?: Logger;
  clock?: Clock;
}

export interface CreateAgentOptions {
  /** @default the factory's env */
  env?: string;
  /** Whose kv namespace and records the runs belong to. @default 'default' */
  tenant?: string;
  /** Exact template version wanted. */
  version?: string;
}

export type FactoryRunOptions = CreateAgentOptions & AgentRunOptions;

const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Creates a factory over a project's templates.
 * @example
 * const factory = await createFactory({ root: '.' });
 * const { output } = await factory.run('hello', { name: 'Ada' });
 * await factory.close();
 */
export async function createFactory(options: FactoryOptions = {}): Promise<AgentFactory> {
  const factory = await openFactory(options);
  await factory.ready();
  await factory.prewarm(options.prewarm ?? false);
  return factory;
}

/**
 * A PostgreSQL store is opened over the network, which a constructor cannot wait for: it is opened here and handed to
 * the factory, which then owns it (closes it) as it owns a SQLite file it opened itself.
 */
async function openFactory(options: FactoryOptions): Promise<AgentFactory> {
  const location = options.store ?? configOf(options).store;
  if (typeof location !== 'string' || parseStoreLocation(location, configOf(options).root).kind !== 'postgres') return new AgentFactory(options);
  const config = configOf(options);
  const store = await connectStore(location, {
    ...(options.clock ? { clock: options.clock } : {}),
    auditAnchorDir: config.keysDir,
    writer: { onError: (error) => (options.logger ?? silentLogger).warn(`run records: ${error.message}`) },
  });
  try {
    return new AgentFactory({ ...options, store }, OWNS_STORE);
  } catch (error) {
    await store.close();
    throw error;
  }
}

function configOf(options: FactoryOptions): ResolvedConfig {
  return resolveConfig({
    ...(options.root !== undefined ? { root: options.root } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.home !== undefined ? { home: options.home } : {}),
    ...(options.processEnv !== undefined ? { processEnv: options.processEnv } : {}),
  });
}

/** Passed by {@link openFactory} only: the factory closes the store it was given. */
const OWNS_STORE = Symbol('owns the store');

export class AgentFactory {
  readonly config: ResolvedConfig;
  /** Resolves only what the trust gate admitted: every template it returns is a TrustedTemplate. */
  readonly registry: TemplateRegistry<TrustedTemplate>;
  readonly trust: ProjectTrust;
  /** The store, when the factory has one. */
  readonly store: Store | undefined;
  readonly #ownsStore: boolean;
  /** The factory closes only the sink it made: a given sink, or the writer of a given store, belongs to the caller. */
  readonly #ownsSink: boolean;
  readonly #sandbox: Sandbox;
  readonly #sink: RunSink;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #live = new Set<Agent>();
  readonly #sinkStats: Partial<{ queueDepth: number; dropped: number }>;
  readonly #denials: DenialAudit;
  readonly #rollouts: RolloutRouter | undefined;
  readonly #telemetry: Telemetry;
  /** Sandbox pools are keyed by spec digest; metrics label them by template. */
  readonly #templateBySpecDigest = new Map<string, string>();
  readonly #gate: TrustGate;
  /** Audit entries and version records written from synchronous callbacks (the trust gate, the registry). */
  readonly #writes: BackgroundWrites;
  /** Sealing the version rows recorded before seals, started at construction: see {@link ready}. */
  readonly #versionsSealed: Promise<void>;
  /** Set with the `dispatch` option: runs go through the queue. */
  readonly #dispatch: { dispatcher: Dispatcher; waitMs: number } | undefined;
  #isClosed = false;

  constructor(options: FactoryOptions = {}, ownership?: typeof OWNS_STORE) {
    this.config = resolveConfig({
      ...(options.root !== undefined ? { root: options.root } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.home !== undefined ? { home: options.home } : {}),
    });
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#writes = new BackgroundWrites(this.#logger.child('store'));
    // Checked before anything is opened, so a refusal leaves nothing to close.
    const lockdown = lockdownReport(options.isolation === 'inline' ? 'inline' : (options.lockdown ?? 'auto'));
    const missingLayers = lockdown.filter((layer) => !layer.active);
    if (missingLayers.length > 0 && (options.requireLockdown ?? process.env.AF_REQUIRE_LOCKDOWN === '1')) {
      const lockdownGaps = missingLayers.map((layer) => `${layer.layer} (${layer.reason})`).join('; ');
      throw new FactoryError('E_UNAVAILABLE', `the sandbox hosts cannot be locked down as required: missing ${lockdownGaps}. Run where these layers are available (see \`af doctor\`), or drop requireLockdown / AF_REQUIRE_LOCKDOWN`, {
        details: { missing: missingLayers.map((layer) => layer.layer) },
      });
    }
    const storeOption = options.store ?? this.config.store;
    const storeLocation = typeof storeOption === 'string' ? parseStoreLocation(storeOption, this.config.root) : undefined;
    if (storeLocation?.kind === 'postgres') throw new FactoryError('E_USAGE', 'a PostgreSQL store is opened over the network: use `await createFactory({ store: URL })`, or open it with connectStore and pass the store');
    this.#ownsStore = storeLocation !== undefined || ownership === OWNS_STORE;
    this.store =
      storeOption === false ? undefined
      : storeLocation !== undefined
        ? openStore({
            path: storeLocation.path,
            clock: this.#clock,
            migrateTrustFrom: trustFileOf(this.config),
            // The project's own database is anchored in its keys folder; another file given here is not that log.
            ...(storeLocation.path === this.config.dbPath ? { auditAnchorDir: this.config.keysDir } : {}),
            // A batch that could not be written (it is retried) or a record SQLite refused (dropped, and counted).
            writer: { onError: (error) => this.#logger.warn(`run records: ${error.message}`) },
          })
      : (storeOption as Store);
    const store = this.store;
    this.#rollouts = store
      ? new RolloutRouter({ store, clock: this.#clock, logger: this.#logger.child('rollout'), dirOf: (name) => this.registry.peek(name)?.dir })
      : undefined;
    if (options.dispatch) {
      if (store?.kind !== 'postgres') throw new FactoryError('E_USAGE', 'dispatch runs through the run queue, which needs a PostgreSQL store: use `await createFactory({ store: "postgres://…", dispatch: true })`');
      const waitMs = typeof options.dispatch === 'object' ? (options.dispatch.waitMs ?? 60_000) : 60_000;
      this.#dispatch = { dispatcher: new Dispatcher(dispatchBackendOf(store as PostgresStore)), waitMs };
    } else {
      this.#dispatch = undefined;
    }
    // Refreshed in the background, never on the run path: see RolloutRouter.start.
    this.#rollouts?.start();
    const baseSink = options.runSink ?? store?.runs ?? createMemoryRunSink();
    this.#ownsSink = options.runSink === undefined && (this.#ownsStore || store === undefined);
    const rollouts = this.#rollouts;
    // Canaries decide from the runs they see; wrapping the sink keeps that off the run path.
    this.#sink = rollouts ? { write: (record) => (baseSink.write(record), rollouts.observe(record)), flush: () => baseSink.flush(), close: () => baseSink.close() } : baseSink;
    this.#sinkStats = baseSink as Partial<{ queueDepth: number; dropped: number }>;
    const trustStore = options.trustStore ?? store?.trust;
    // Without a store, trust data is `.af/trust.json`, as writable as the database: the keys folder vouches for it too.
    this.trust = openProjectTrust(this.config, {
      clock: this.#clock,
      ...(trustStore ? { store: trustStore } : { seal: new TrustSeal(this.config.keysDir, { file: 'trust-json-seal.json', subject: trustFileOf(this.config) }) }),
    });
    // Version rows recorded before rows were sealed: those a trusted signature vouches for are sealed as they are (once),
    // never while the trust data itself is not what the keys folder vouches for (a forged root would vouch for anything).
    // Started here (SQLite does it at once, as before); a store over the network finishes it before `createFactory`
    // resolves, and a stored version is never read before it is done. A failure leaves rows unsealed, which are refused.
    this.#versionsSealed = store && !store.isClosed ? this.#sealVouchedVersions(store) : Promise.resolve();
    const gate = new TrustGate({
      verifier: this.trust.verifier,
      policy: this.trust.loadPolicy(),
      retirements: this.trust.store,
      ...(options.devEnvironments ? { devEnvironments: options.devEnvironments } : {}),
      onAudit: (event) => {
        if (event.type !== 'signature.waived') this.#telemetry.recordTrustRejection(event.code ?? 'E_SIGNATURE_INVALID', event.template);
        // The gate decides synchronously, on the run path: the audit entry is written without holding it up.
        if (store) this.#writes.start(`audit of ${event.type}`, () => store.audit.append({ type: event.type, subject: event.template, data: { version: event.version, env: event.env, digest: event.digest, code: event.code, message: event.message } }));
        options.onAudit?.(event);
      },
      logger: this.#logger.child('trust'),
    });
    this.#gate = gate;
    // Once per process, where a non-dev factory starts: Node 20 can only run isolated-vm 5.0.x (unpatched).
    if (!gate.isDevEnvironment(this.config.env)) warnIfIsolateLibraryUnpatched(this.#logger);
    this.registry = new TemplateRegistry({
      trust: gate,
      agentsDir: this.config.agentsDir,
      displayRoot: this.config.root,
      bundleCacheDir: this.config.bundleCacheDir,
      env: this.config.env,
      watch: options.watch ?? gate.isDevEnvironment(this.config.env),
      logger: this.#logger.child('templates'),
      clock: this.#clock,
      ...(store
        ? {
            onResolved: (template) => this.#writes.start(`recording ${template.name} ${template.version}`, () => recordVersion(store, template)),
            versionSource: async (name, version) => {
              await this.#versionsSealed;
              return store.versions.get(name, version);
            },
          }
        : {}),
    });
    const lockdownWarning = missingLayersWarning(lockdown);
    if (lockdownWarning !== undefined && !gate.isDevEnvironment(this.config.env)) this.#logger.warn(lockdownWarning);
    this.#denials = new DenialAudit(store, this.#logger.child('sandbox'), this.#clock);
    this.#sandbox = createSandbox({
      isolation: options.isolation ?? 'process',
      ...(options.hosts !== undefined ? { hosts: options.hosts } : {}),
      ...(options.hostMemoryMb !== undefined ? { hostMemoryMb: options.hostMemoryMb } : {}),
      ...(options.heapProbeEvery !== undefined ? { heapProbeEvery: options.heapProbeEvery } : {}),
      ...(options.processEnv ? { processEnv: options.processEnv } : {}),
      ...(options.lockdown !== undefined ? { lockdown: options.lockdown } : {}),
      logger: this.#logger.child('sandbox'),
      clock: this.#clock,
      services: {
        kv: options.kv ?? store?.kv ?? createMemoryKvStore(),
        spawn: (request) => this.#spawn(request),
        onDenial: (denial) => this.#denials.report(denial),
      },
    });
    const writer = this.#sinkStats;
    this.#telemetry = createTelemetry({
      poolStats: () =>
        this.#sandbox.stats().pools.map((pool) => ({ ready: pool.ready, busy: pool.busy, template: this.#templateBySpecDigest.get(pool.digest) ?? 'unknown' })),
      ...('queueDepth' in writer ? { queueDepth: () => writer.queueDepth ?? 0 } : {}),
      ...('dropped' in writer ? { droppedRecords: () => writer.dropped ?? 0 } : {}),
      now: () => this.#clock.monotonic(),
    });
  }

  /**
   * Resolves once the work the constructor started on the store is done (sealing version rows recorded before
   * seals) and the active rollouts were read, so the first run is routed as the store says; `createFactory` waits
   * for it. Never rejects: a failure is logged.
   */
  async ready(): Promise<void> {
    await Promise.all([this.#versionsSealed, this.#rollouts?.refresh()]);
  }

  /** Resolves templates and registers them with the sandbox so their contexts are warm before first use. */
  async prewarm(which: boolean | string[]): Promise<void> {
    const names = which === true ? this.registry.names() : which === false ? [] : which;
    for (const name of names) {
      try {
        const template = await this.registry.resolve(name);
        this.#sandbox.register(template.spec);
      } catch (error) {
        // Abstract or broken templates are reported when someone asks for them, not here.
        if (!(error instanceof FactoryError)) throw error;
        this.#logger.debug(`not prewarming "${name}": ${error.message}`);
      }
    }
  }

  /**
   * Creates an agent. On the warm path this is a cache lookup and a synchronous sandbox reservation: no I/O, no IPC.
   * @throws FactoryError `E_TEMPLATE_NOT_FOUND`, `E_TEMPLATE_INVALID`, `E_TEMPLATE_IMPORT`, `E_DISPOSED`.
   */
  createAgent(name: string, options: CreateAgentOptions = {}): Promise<Agent> {
    return this.#createAgent(name, options, 0, undefined);
  }

  /** Creates an agent, runs it once, disposes it. @throws FactoryError with the run's code. */
  async run(name: string, input: unknown, options: FactoryRunOptions = {}): Promise<{ output: unknown; stats: RunStats; runId: string } & RunOrigin> {
    if (this.#dispatch) return settledToResult(await this.#runDispatched(this.#dispatch, name, input, options));
    const agent = await this.createAgent(name, options);
    try {
      return await agent.run(input, options);
    } finally {
      await agent.dispose();
    }
  }

  /** Like {@link run}, but reports a failed run as data instead of throwing. Template errors still throw. */
  async runSettled(name: string, input: unknown, options: FactoryRunOptions = {}): Promise<RunReport> {
    if (this.#dispatch) return this.#runDispatched(this.#dispatch, name, input, options);
    const agent = await this.createAgent(name, options);
    try {
      return await agent.runSettled(input, options);
    } finally {
      await agent.dispose();
    }
  }

  /**
   * A run through the queue: a run that could not start (an unknown template, one the trust gate refused) throws what
   * `createAgent` would have thrown here.
   */
  async #runDispatched(dispatch: { dispatcher: Dispatcher; waitMs: number }, name: string, input: unknown, options: FactoryRunOptions): Promise<RunReport> {
    if (this.#isClosed) throw new FactoryError('E_DISPOSED', 'the factory was closed; create a new one with createFactory()');
    if (options.signal !== undefined || options.runId !== undefined || options.kv !== undefined) {
      throw new FactoryError('E_USAGE', 'signal, runId and kv are options of a run made in this process; a dispatched run takes tenant, env and version');
    }
    const tenant = options.tenant ?? 'default';
    if (!TENANT.test(tenant)) throw new FactoryError('E_USAGE', `tenant ${JSON.stringify(tenant)} is not valid: use letters, digits, ".", "_" and "-" (at most 64)`);
    const result = await dispatch.dispatcher.run(name, input, {
      tenant,
      env: options.env ?? this.config.env,
      ...(options.version !== undefined ? { version: options.version } : {}),
      waitMs: dispatch.waitMs,
    });
    if ('notRun' in result) throw new FactoryError(result.error.code, result.error.message, result.error.problems ? { problems: result.error.problems } : {});
    return result;
  }

  /** True for the environments that run unsigned templates and retired versions (`devEnvironments`): adapters use it to keep callers out of them. */
  isDevEnvironment(env: string): boolean {
    return this.#gate.isDevEnvironment(env);
  }

  /** Sandbox pool sizes and host restarts. */
  sandboxStats() {
    return this.#sandbox.stats();
  }

  /** Disposes every agent, stops the sandbox, flushes and closes the run sink. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#telemetry.shutdown();
    for (const agent of [...this.#live]) await agent.dispose();
    this.registry.close();
    this.trust.store.close?.();
    await this.#sandbox.close();
    await this.#denials.flush();
    await this.#versionsSealed;
    this.#rollouts?.stop();
    await this.#rollouts?.settled();
    await this.#writes.settled();
    await this.#sink.flush();
    if (this.#ownsSink) await this.#sink.close();
    if (this.#ownsStore) await this.store?.close();
  }

  async #sealVouchedVersions(store: Store): Promise<void> {
    try {
      await store.versions.sealVouched(() => (store.trust.trustProblem() ? () => false : (version) => vouchesForStoredVersion(version, this.trust.verifier)));
    } catch (error) {
      this.#logger.warn(`could not seal the template versions recorded before seals (they stay unsealed, and are refused): ${(error as Error).message}`);
    }
  }

  async #createAgent(name: string, options: CreateAgentOptions, depth: number, parentId: string | undefined): Promise<Agent> {
    const started = this.#clock.monotonic();
    const tenant = options.tenant ?? 'default';
    const span = this.#telemetry.startCreate({ template: name, env: options.env ?? this.config.env, tenant });
    let version: string | undefined;
    let coldStart: boolean | undefined;
    try {
      if (this.#isClosed) throw new FactoryError('E_DISPOSED', 'the factory was closed; create a new one with createFactory()');
      if (!TENANT.test(tenant)) {
        throw new FactoryError('E_USAGE', `tenant ${JSON.stringify(tenant)} is not valid: use letters, digits, ".", "_" and "-" (at most 64)`);
      }
      // A canary routes a share of creations to its candidate version unless a version was asked for. Not in dev:
      // there the code on disk is what runs (an edit must never lose to a stored version), so canaries are for
      // the environments that run signed versions.
      const route = this.#rollouts && options.version === undefined && depth === 0 && !this.#gate.isDevEnvironment(options.env ?? this.config.env) ? this.#rollouts.pick(name) : undefined;
      const wanted = options.version ?? route?.version;
      const resolveOptions = { ...(options.env !== undefined ? { env: options.env } : {}), ...(wanted !== undefined ? { version: wanted } : {}) };
      coldStart = this.registry.peek(name, resolveOptions) === undefined;
      const template = await this.registry.resolve(name, resolveOptions);
      version = template.version;
      // The data plane runs nothing the trust gate did not admit.
      if (!isTrusted(template)) throw new FactoryError('E_INTERNAL', `template "${name}" reached the sandbox without passing the trust gate`);
      if (coldStart) this.#templateBySpecDigest.set(template.spec.digest, template.name);
      const reservation = this.#sandbox.reserve(template.spec);
      const agent = new Agent({
        template,
        tenant,
        sandbox: this.#sandbox,
        reservation,
        sink: this.#sink,
        clock: this.#clock,
        telemetry: this.#telemetry,
        createMs: this.#clock.monotonic() - started,
        depth,
        ...(parentId !== undefined ? { parentId } : {}),
        // A canary's candidate is labelled so wherever it lives (on disk after an accept, stored after `af rollout`).
        source: route?.isCandidate ? 'canary' : template.bundleOrigin === 'store' ? 'stored' : 'on-disk',
        onDispose: (disposed) => this.#live.delete(disposed),
      });
      this.#live.add(agent);
      span.end({ version, coldStart });
      return agent;
    } catch (error) {
      span.end({ ...(version !== undefined ? { version } : {}), ...(coldStart !== undefined ? { coldStart } : {}), errorCode: error instanceof FactoryError ? error.code : 'E_INTERNAL' });
      throw error;
    }
  }

  /**
   * `ctx.spawn`: the child runs with its own template's permissions and limits, never its parent's. A parent with a kv
   * of its own (a queued run's, whose writes wait for its completion) lends it to the child: the child's writes then
   * commit or vanish with the parent's, rather than landing at once and again when the parent runs again.
   */
  async #spawn(request: SpawnRequest): Promise<unknown> {
    const child = await this.#createAgent(request.name, { env: request.env, tenant: request.tenant }, request.depth, request.parentId);
    try {
      const report = await child.runSettled(request.input, { ...(request.signal ? { signal: request.signal } : {}), ...(request.kv ? { kv: request.kv } : {}) });
      if (report.ok) return report.output;
      throw new FactoryError(report.error.code, `spawned agent "${request.name}" failed: ${report.error.message}`);
    } finally {
      await child.dispose();
    }
  }
}

/** Keeps every version that ran, with its bundle, signature, agent.json and source files, for rollback and canaries. */
function recordVersion(store: Store, template: TrustedTemplate): Awaitable<void> {
  if (store.isClosed) return;
  return store.versions.record({
    // On the cold path only (a registry miss). agent.json is the text the resolve parsed, never read again here;
    // the source files were just read to bundle or hash them, and are checked against those hashes.
    ...versionFilesOf(template),
    name: template.name,
    version: template.version,
    digest: template.digest,
    manifest: template.inherited,
    sources: { ...template.sources },
    bundle: template.code,
    ...(template.trust?.signature ? { signature: template.trust.signature } : {}),
  });
}

/** A settled report as `run` answers it: the output, or the run's error thrown (as Agent.run does). */
function settledToResult(report: RunReport): { output: unknown; stats: RunStats; runId: string } & RunOrigin {
  const origin: RunOrigin = { version: report.version, digest: report.digest, source: report.source, signed: report.signed, ...(report.keyId !== undefined ? { keyId: report.keyId } : {}) };
  if (report.ok) return { output: report.output, stats: report.stats, runId: report.runId, ...origin };
  throw new FactoryError(report.error.code, report.error.message, {
    ...(report.error.problems ? { problems: report.error.problems } : {}),
    details: { runId: report.runId, stats: report.stats },
  });
}
