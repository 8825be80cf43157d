/** @module api/environments — the environments an API caller may name: an allowlist fixed when the server starts, never holding a development environment on a server that is not one. */

/** Environment names, as the factory spells them (core/config). */
const ENV_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export interface RequestEnvironmentsOptions {
  /** The server's own environment (its factory's): what a request that names none runs in. */
  serverEnv: string;
  /** Whether an environment waives signatures and retirements (the factory's `devEnvironments`). */
  isDevEnvironment(env: string): boolean;
  /** Further environments requests may name. @default none: only `serverEnv` */
  allowed?: readonly string[];
}

/**
 * The environment of a run is a security setting (signatures, policy, the manifest's overlay), so it belongs to whoever
 * started the server, never to the API caller: a request may only name one of the environments fixed here.
 */
export class RequestEnvironments {
  readonly serverEnv: string;
  readonly #allowed: ReadonlySet<string>;
  readonly #isDev: (env: string) => boolean;

  /** @throws TypeError naming the environment that is not a name, or that is a development one on a server that is not. */
  constructor(options: RequestEnvironmentsOptions) {
    const { serverEnv, isDevEnvironment } = options;
    const isDevServer = isDevEnvironment(serverEnv);
    for (const env of options.allowed ?? []) {
      if (typeof env !== 'string' || !ENV_NAME.test(env)) throw new TypeError(`createApiServer: option "environments" holds ${JSON.stringify(env)}, which is not an environment name (${ENV_NAME})`);
      if (!isDevServer && isDevEnvironment(env)) {
        throw new TypeError(`createApiServer: option "environments" holds "${env}", a development environment (unsigned templates run there), but the server runs "${serverEnv}"; a server that is not a development one never lets callers choose one`);
      }
    }
    this.serverEnv = serverEnv;
    this.#allowed = new Set([serverEnv, ...(options.allowed ?? [])]);
    this.#isDev = isDevEnvironment;
  }

  /** Every environment a request may name, the server's first. */
  get allowed(): string[] {
    return [...this.#allowed];
  }

  /**
   * The environment a request runs in: the server's when it names none.
   * @returns undefined when the request named one it may not: the caller answers 403.
   */
  pick(requested: string | undefined): string | undefined {
    if (requested === undefined) return this.serverEnv;
    if (!this.#allowed.has(requested)) return undefined;
    // Checked again per request, so no path around the constructor can open a development environment.
    if (this.#isDev(requested) && !this.#isDev(this.serverEnv)) return undefined;
    return requested;
  }

  /** Why `requested` was refused, and what to do instead. */
  refusal(requested: string): string {
    return `this server runs environment "${this.serverEnv}" and lets requests name only ${this.allowed.map((env) => `"${env}"`).join(', ')}, not "${requested}"; leave "env" out, or ask its operator to allow it at start-up (\`af serve --allow-env\`; never a development environment on a server that is not one)`;
  }
}
