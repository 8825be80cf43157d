/** @module api/client — FactoryClient, the typed SDK for the HTTP API: one method per route, retries on 429/503 honouring retry-after, errors as FactoryError with the server's code. */
import { type ErrorCode, FactoryError } from '../core/errors.js';
import type { RetiredVersion } from './services.js';
import type {
  ApiErrorResponse,
  AuditEntryView,
  AuditQuery,
  ReadinessView,
  RunListQuery,
  RunResult,
  RunView,
  SuggestionListQuery,
  SuggestionView,
  TemplateDetail,
  TemplateSummary,
} from './types.js';

export interface FactoryClientOptions {
  /** Where the server listens, e.g. `http://127.0.0.1:7070`. */
  baseUrl: string | URL;
  /** An API key `afk_<id>_<secret>` from `af keys api create`. */
  apiKey: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Attempts per call, the first included, when the server answers 429 or 503. @default 3 */
  maxAttempts?: number;
  /** Longest wait before a retry; a `retry-after` beyond it is not waited for: the error is thrown instead. @default 30_000 */
  maxRetryDelayMs?: number;
  /** How waiting is done (tests record or shorten it). @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

interface ResolvedClientOptions {
  baseUrl: string;
  apiKey: string;
  fetch: typeof fetch;
  maxAttempts: number;
  maxRetryDelayMs: number;
  sleep: (ms: number) => Promise<void>;
}

const RETRYABLE = new Set([429, 503]);
/** Without `retry-after`, waits grow from this, doubling. */
const BASE_BACKOFF_MS = 250;

function resolveClientOptions(options: FactoryClientOptions): ResolvedClientOptions {
  const fail = (option: string, must: string) => new TypeError(`FactoryClient: option "${option}" ${must}`);
  if (typeof options !== 'object' || options === null) throw new TypeError('FactoryClient: options must be an object');
  let baseUrl: URL;
  try {
    baseUrl = new URL(String(options.baseUrl));
  } catch {
    throw fail('baseUrl', `must be an absolute http(s) URL, got ${JSON.stringify(String(options.baseUrl))}`);
  }
  if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') throw fail('baseUrl', 'must be an http(s) URL');
  if (typeof options.apiKey !== 'string' || !options.apiKey.startsWith('afk_')) throw fail('apiKey', 'must be an API key "afk_…" (see `af keys api create`)');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw fail('fetch', 'must be a function (or run on a Node with global fetch)');
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) throw fail('maxAttempts', 'must be an integer from 1 to 20');
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  if (typeof maxRetryDelayMs !== 'number' || !(maxRetryDelayMs >= 0)) throw fail('maxRetryDelayMs', 'must be a number ≥ 0');
  if (options.sleep !== undefined && typeof options.sleep !== 'function') throw fail('sleep', 'must be a function');
  return {
    baseUrl: baseUrl.href.replace(/\/+$/, ''),
    apiKey: options.apiKey,
    fetch: fetchImpl,
    maxAttempts,
    maxRetryDelayMs,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  };
}

/**
 * Parses `retry-after`: delay-seconds or an HTTP date.
 * @returns milliseconds to wait, or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

type Query = Record<string, string | number | undefined>;

/**
 * The typed client of the Agent Factory HTTP API.
 * @example
 * const client = new FactoryClient({ baseUrl: 'http://127.0.0.1:7070', apiKey: process.env.AF_API_KEY! });
 * const { output } = await client.runAgent('hello', { name: 'Ada' });
 */
export class FactoryClient {
  readonly #options: ResolvedClientOptions;

  constructor(options: FactoryClientOptions) {
    this.#options = resolveClientOptions(options);
  }

  /**
   * Every template with version, digest and signature status.
   * @param options.env an environment the server was started to allow (`af serve --allow-env`); others answer 403. @default the server's
   */
  async listTemplates(options: { env?: string } = {}): Promise<TemplateSummary[]> {
    return (await this.#call<{ templates: TemplateSummary[] }>('GET', '/v1/templates', { query: { env: options.env } })).templates;
  }

  async getTemplate(name: string, options: { env?: string } = {}): Promise<TemplateDetail> {
    return this.#call('GET', `/v1/templates/${encodeURIComponent(name)}`, { query: { env: options.env } });
  }

  /**
   * Runs an agent once under the key's tenant, in the server's environment (or `options.env`, when the server was
   * started to allow it: `af serve --allow-env`; others answer 403 E_FORBIDDEN).
   * @throws FactoryError with the run's code (`E_INPUT_INVALID`, `E_AGENT_THREW`, `E_TIMEOUT`, …); for a run that
   *   started, `details` carry `runId` and `stats`, and always `status`.
   */
  async runAgent(name: string, input: unknown, options: { env?: string } = {}): Promise<RunResult> {
    return this.#call('POST', `/v1/agents/${encodeURIComponent(name)}/runs`, { body: { input, ...(options.env !== undefined ? { env: options.env } : {}) } });
  }

  /** Runs of the key's tenant, newest first. */
  async listRuns(query: RunListQuery = {}): Promise<RunView[]> {
    return (await this.#call<{ runs: RunView[] }>('GET', '/v1/runs', { query: { ...query } })).runs;
  }

  async getRun(id: string): Promise<RunView> {
    return this.#call('GET', `/v1/runs/${encodeURIComponent(id)}`);
  }

  async listSuggestions(query: SuggestionListQuery = {}): Promise<SuggestionView[]> {
    return (await this.#call<{ suggestions: SuggestionView[] }>('GET', '/v1/suggestions', { query: { ...query } })).suggestions;
  }

  async getSuggestion(id: string): Promise<SuggestionView> {
    return this.#call('GET', `/v1/suggestions/${encodeURIComponent(id)}`);
  }

  async acceptSuggestion(id: string, options: { reason?: string } = {}): Promise<SuggestionView> {
    return this.#call('POST', `/v1/suggestions/${encodeURIComponent(id)}/accept`, { body: { ...(options.reason !== undefined ? { reason: options.reason } : {}) } });
  }

  async rejectSuggestion(id: string, reason: string): Promise<SuggestionView> {
    return this.#call('POST', `/v1/suggestions/${encodeURIComponent(id)}/reject`, { body: { reason } });
  }

  /** Needs an installation key (`af keys api create --installation`). A retired version is refused (409 E_VERSION_RETIRED). */
  async rollback(name: string, options: { to?: string } = {}): Promise<{ name: string; version: string }> {
    return this.#call('POST', `/v1/templates/${encodeURIComponent(name)}/rollback`, { body: { ...(options.to !== undefined ? { to: options.to } : {}) } });
  }

  /**
   * Retires a version: every environment but dev refuses it from now on, also in running servers. Needs an installation key.
   * @returns `isNew: false` when it was already retired.
   */
  async retireVersion(name: string, version: string, options: { reason?: string } = {}): Promise<RetiredVersion> {
    return this.#call('POST', `/v1/templates/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/retire`, {
      body: { ...(options.reason !== undefined ? { reason: options.reason } : {}) },
    });
  }

  /** The audit log, newest first (installation admin keys only). */
  async audit(query: AuditQuery = {}): Promise<AuditEntryView[]> {
    return (await this.#call<{ entries: AuditEntryView[] }>('GET', '/v1/audit', { query: { ...query } })).entries;
  }

  async health(): Promise<{ ok: boolean }> {
    return this.#call('GET', '/healthz');
  }

  /** Readiness, also when not ready (503): never retried, never thrown for 503. */
  async ready(): Promise<ReadinessView> {
    return this.#call('GET', '/readyz', { acceptStatus: 503, isRetryable: false });
  }

  /** The OpenAPI 3 document of the server. */
  async openapi(): Promise<Record<string, unknown>> {
    return this.#call('GET', '/v1/openapi.json');
  }

  /** The Prometheus text exposition. */
  async metrics(): Promise<string> {
    return this.#call('GET', '/metrics', { isText: true });
  }

  async #call<T>(
    method: 'GET' | 'POST',
    path: string,
    options: { query?: Query; body?: unknown; acceptStatus?: number; isRetryable?: boolean; isText?: boolean } = {},
  ): Promise<T> {
    const { baseUrl, apiKey, maxAttempts, maxRetryDelayMs, sleep } = this.#options;
    const url = new URL(baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const init: RequestInit = {
      method,
      headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json', ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.#options.fetch(url, init);
      } catch (error) {
        // Not retried: a POST that reached the server may have run; the caller knows whether repeating is safe.
        throw new FactoryError(apiCode('E_UNAVAILABLE'), `cannot reach ${baseUrl}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      if (response.ok || response.status === options.acceptStatus) {
        return (options.isText ? await response.text() : await response.json()) as T;
      }
      const canRetry = options.isRetryable !== false && RETRYABLE.has(response.status) && attempt < maxAttempts;
      const delay = parseRetryAfter(response.headers.get('retry-after')) ?? BASE_BACKOFF_MS * 2 ** (attempt - 1);
      if (canRetry && delay <= maxRetryDelayMs) {
        await response.body?.cancel();
        await sleep(delay);
        continue;
      }
      throw await errorFrom(response, method, path);
    }
  }
}

/**
 * Codes the API defines beyond `core/errors.ts` (E_NOT_FOUND, E_CONFLICT, …) are carried as the error's code
 * unchanged, so callers can match the server's code exactly; the cast goes once they join ERROR_CODES.
 */
function apiCode(code: string): ErrorCode {
  return code as ErrorCode;
}

async function errorFrom(response: Response, method: string, path: string): Promise<FactoryError> {
  const text = await response.text();
  let body: Partial<ApiErrorResponse> | undefined;
  try {
    body = JSON.parse(text) as Partial<ApiErrorResponse>;
  } catch {
    body = undefined;
  }
  const error = body?.error;
  const code = typeof error?.code === 'string' ? error.code : response.status >= 500 ? 'E_INTERNAL' : 'E_USAGE';
  const message = typeof error?.message === 'string' ? error.message : `${method} ${path} answered HTTP ${response.status}`;
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
  return new FactoryError(apiCode(code), message, {
    ...(Array.isArray(error?.problems) ? { problems: error.problems } : {}),
    details: {
      status: response.status,
      ...(body?.runId !== undefined ? { runId: body.runId } : {}),
      ...(body?.stats !== undefined ? { stats: body.stats } : {}),
      ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
    },
  });
}
