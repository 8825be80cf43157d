/**
 * @module api/schemas — JSON Schemas of every body, parameter, query and answer of `/v1`: requests are validated by
 * them and answers serialised by them, so nothing unlisted leaks. Each object schema `satisfies` {@link ObjectSchemaOf}
 * the type it describes (imported from the type's home), and the assertions at the end check its `required` list:
 * a field added to `RunRecord`, `RunStats`, `AuditEntry`, … without its schema here fails `tsc`.
 */
import { ERROR_CODES } from '../core/errors.js';
import type { JsonPatchOperation, Suggestion } from '../core/suggestion.js';
import { SUGGESTION_KINDS, SUGGESTION_STATES } from '../core/suggestion.js';
import type { RunStats } from '../runtime/index.js';
import type { AuditEntry } from '../store/index.js';
import type { AssertNever, MissingRequired, ObjectSchemaOf } from './schema-of.js';
import type { RetiredVersion } from './services.js';
import type { ApiErrorResponse, AuditQuery, ReadinessView, RunListQuery, RunRequest, RunResult, RunView, SuggestionListQuery, TemplateDetail, TemplateSignature, TemplateSummary } from './types.js';

/** Template and tenant names share the factory's rule. */
const NAME = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const;
/** The factory's environment-name rule (core/config); which names a server accepts is fixed when it starts. */
const ENV = {
  type: 'string',
  pattern: '^[a-z][a-z0-9_-]{0,31}$',
  description: "Default: the server's environment. Only environments the server was started to allow (`af serve --allow-env`) are accepted (403 otherwise); a development environment never is on a server that is not one.",
} as const;
const VERSION = { type: 'string', minLength: 5, maxLength: 64, pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+[0-9A-Za-z.+-]*$' } as const;
const ID = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' } as const;
const EPOCH_MS = { type: 'integer', minimum: 0 } as const;
const LIMIT = { type: 'integer', minimum: 1, maximum: 1000, default: 100 } as const;
const ANY_OBJECT = { type: 'object', additionalProperties: true } as const;
const COUNTS = { type: 'object', additionalProperties: { type: 'number' } } as const;
const DENIAL = { type: 'object', properties: { permission: { type: 'string' }, target: { type: 'string' } }, required: ['permission', 'target'] } as const satisfies ObjectSchemaOf<RunView['denials'][number]>;
const DENIALS = { type: 'array', items: DENIAL } as const;
const CODE = { type: 'string', enum: [...ERROR_CODES] } as const;

export const errorSchema = {
  // The OpenAPI document's name for the error body (clients generated from it use it); no class of that name remains.
  $id: 'ApiError',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: CODE,
        message: { type: 'string' },
        problems: { type: 'array', items: { type: 'object', required: ['message'], properties: { pointer: { type: 'string' }, message: { type: 'string' } } } },
      },
    } as const satisfies ObjectSchemaOf<ApiErrorResponse['error']>,
    runId: { type: 'string' },
    stats: { $ref: 'RunStats#' },
  },
} as const satisfies ObjectSchemaOf<ApiErrorResponse>;

export const runStatsSchema = {
  $id: 'RunStats',
  type: 'object',
  required: ['createMs', 'runMs', 'cpuMs', 'heapUsedAtEndBytes', 'inputBytes', 'outputBytes', 'tools', 'denials', 'logs', 'logsDropped'],
  properties: {
    createMs: { type: 'number' },
    runMs: { type: 'number' },
    cpuMs: { type: 'number' },
    heapUsedAtEndBytes: { type: 'number' },
    heapGrowthBytes: { type: 'number' },
    inputBytes: { type: 'number' },
    outputBytes: { type: 'number' },
    tools: COUNTS,
    denials: DENIALS,
    logs: { type: 'array', items: { type: 'object', required: ['level', 'message'], properties: { level: { type: 'string' }, message: { type: 'string' }, fields: {} } } as const satisfies ObjectSchemaOf<RunStats['logs'][number]> },
    logsDropped: { type: 'integer' },
  },
} as const satisfies ObjectSchemaOf<RunStats>;

const templateSummary = {
  type: 'object',
  required: ['name', 'version', 'description', 'status', 'digest', 'signature'],
  properties: {
    name: { type: 'string' },
    version: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['valid', 'abstract', 'invalid', 'refused'] },
    digest: { type: ['string', 'null'] },
    signature: { type: ['string', 'null'], enum: ['signed', 'waived', null] },
    error: { type: 'object', required: ['code', 'message'], properties: { code: CODE, message: { type: 'string' } } } as const satisfies ObjectSchemaOf<NonNullable<TemplateSummary['error']>>,
  },
} as const satisfies ObjectSchemaOf<TemplateSummary>;

const templateDetail = {
  type: 'object',
  required: ['name', 'version', 'env', 'abstract', 'description', 'digest', 'chain', 'manifest', 'signature', 'versions'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    env: { type: 'string' },
    abstract: { type: 'boolean' },
    description: { type: ['string', 'null'] },
    digest: { type: ['string', 'null'] },
    chain: { type: 'array', items: { type: 'string' } },
    manifest: ANY_OBJECT,
    signature: {
      type: 'object',
      required: ['status'],
      properties: {
        status: { type: 'string', enum: ['signed', 'waived', 'refused'] },
        keyId: { type: 'string' },
        signer: { type: 'string' },
        signedAt: { type: 'number' },
        reason: { type: 'string' },
        code: CODE,
      },
    } as const satisfies ObjectSchemaOf<TemplateSignature>,
    versions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['version', 'digest', 'signed', 'recordedAt'],
        properties: { version: { type: 'string' }, digest: { type: 'string' }, signed: { type: 'boolean' }, recordedAt: { type: 'number' }, retired: { type: 'boolean' }, unsealed: { type: 'boolean' } },
      } as const satisfies ObjectSchemaOf<TemplateDetail['versions'][number]>,
    },
  },
} as const satisfies ObjectSchemaOf<TemplateDetail>;

const runView = {
  type: 'object',
  required: ['id', 'template', 'version', 'digest', 'env', 'tenant', 'startedAt', 'createMs', 'runMs', 'cpuMs', 'heapUsedAtEndBytes', 'inputBytes', 'outputBytes', 'outcome', 'tools', 'denials', 'logsDropped', 'depth'],
  properties: {
    id: { type: 'string' },
    template: { type: 'string' },
    version: { type: 'string' },
    digest: { type: 'string' },
    env: { type: 'string' },
    tenant: { type: 'string' },
    startedAt: { type: 'number' },
    createMs: { type: 'number' },
    runMs: { type: 'number' },
    cpuMs: { type: 'number' },
    heapUsedAtEndBytes: { type: 'number' },
    heapGrowthBytes: { type: 'number' },
    censoredBy: { type: 'string', enum: ['cpuMs', 'timeoutMs', 'memoryMb'] },
    limits: {
      type: 'object',
      required: ['cpuMs', 'timeoutMs', 'memoryMb'],
      properties: {
        cpuMs: { type: 'number' },
        timeoutMs: { type: 'number' },
        memoryMb: { type: 'number' },
        measure: { type: 'object', required: ['name', 'value'], properties: { name: { type: 'string' }, value: { type: 'number' } } },
      },
    },
    inputBytes: { type: 'number' },
    outputBytes: { type: 'number' },
    outcome: { type: 'string', enum: ['ok', 'error'] },
    errorCode: { type: 'string' },
    tools: COUNTS,
    denials: DENIALS,
    grantsUsed: { type: 'array', items: { type: 'string' } },
    logsDropped: { type: 'integer' },
    depth: { type: 'integer' },
    parentId: { type: 'string' },
  },
} as const satisfies ObjectSchemaOf<RunView>;

const suggestionView = {
  type: 'object',
  required: ['id', 'kind', 'template', 'tenant', 'baseVersion', 'baseDigest', 'patch', 'evidence', 'expectedImpact', 'confidence', 'state', 'createdAt', 'evidenceKey'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: [...SUGGESTION_KINDS] },
    template: { type: 'string' },
    tenant: { type: 'string' },
    baseVersion: { type: 'string' },
    baseDigest: { type: 'string' },
    patch: {
      type: 'array',
      items: {
        type: 'object',
        required: ['op', 'path'],
        properties: { op: { type: 'string', enum: ['add', 'remove', 'replace', 'test', 'move', 'copy'] }, path: { type: 'string' }, value: {}, from: { type: 'string' } },
      } as const satisfies ObjectSchemaOf<JsonPatchOperation>,
    },
    evidence: ANY_OBJECT,
    expectedImpact: { type: 'object', required: ['summary'], additionalProperties: true, properties: { summary: { type: 'string' } } },
    confidence: { type: 'number' },
    state: { type: 'string', enum: [...SUGGESTION_STATES] },
    createdAt: { type: 'number' },
    evidenceKey: { type: 'string' },
    decidedAt: { type: 'number' },
    decidedBy: { type: 'string' },
    reason: { type: 'string' },
    candidateVersion: { type: 'string' },
  },
} as const satisfies ObjectSchemaOf<Suggestion>;

const auditEntry = {
  type: 'object',
  required: ['seq', 'at', 'type', 'actor', 'subject', 'data', 'prevHash', 'hash'],
  properties: {
    seq: { type: 'integer' },
    at: { type: 'number' },
    type: { type: 'string' },
    actor: { type: 'string' },
    subject: { type: 'string' },
    data: ANY_OBJECT,
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
} as const satisfies ObjectSchemaOf<AuditEntry>;

/** Error answers share one schema; `4xx`/`5xx` keys cover every status the mapping can give. */
const errors = { '4xx': { $ref: 'ApiError#' }, '5xx': { $ref: 'ApiError#' } } as const;
const nameParams = { type: 'object', required: ['name'], additionalProperties: false, properties: { name: NAME } } as const;
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: ID } } as const;

/** Per route: `schema` for Fastify (tags and summary feed the OpenAPI document). */
export const ROUTE_SCHEMAS = {
  listTemplates: {
    tags: ['templates'],
    summary: 'Every template with its version, digest and signature status',
    querystring: { type: 'object', additionalProperties: false, properties: { env: ENV } },
    response: { 200: { type: 'object', required: ['templates'], properties: { templates: { type: 'array', items: templateSummary } } }, ...errors },
  },
  getTemplate: {
    tags: ['templates'],
    summary: 'The resolved manifest, digest, signature status and recorded versions of a template',
    params: nameParams,
    querystring: { type: 'object', additionalProperties: false, properties: { env: ENV } },
    response: { 200: templateDetail, ...errors },
  },
  runAgent: {
    tags: ['runs'],
    summary: "Creates an agent from a template, runs it once with the input under the key's tenant, and disposes it",
    params: nameParams,
    body: { type: 'object', required: ['input'], additionalProperties: false, properties: { input: {}, env: ENV } } as const satisfies ObjectSchemaOf<RunRequest>,
    response: {
      200: {
        type: 'object',
        required: ['runId', 'template', 'version', 'output', 'stats'],
        properties: {
          runId: { type: 'string' }, template: { type: 'string' }, version: { type: 'string' },
          // Which code ran: two builds of one version differ in their digest; `source` says on disk, stored or canary.
          digest: { type: 'string' }, source: { type: 'string', enum: ['on-disk', 'stored', 'canary'] }, signed: { type: 'boolean' },
          output: {}, stats: { $ref: 'RunStats#' },
        },
      } as const satisfies ObjectSchemaOf<RunResult>,
      ...errors,
    },
  },
  listRuns: {
    tags: ['runs'],
    summary: "Recorded runs of the key's tenant, newest first",
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: { template: NAME, outcome: { type: 'string', enum: ['ok', 'error'] }, since: EPOCH_MS, until: EPOCH_MS, limit: LIMIT },
    } as const satisfies ObjectSchemaOf<RunListQuery>,
    response: { 200: { type: 'object', required: ['runs'], properties: { runs: { type: 'array', items: runView } } }, ...errors },
  },
  getRun: {
    tags: ['runs'],
    summary: "One recorded run of the key's tenant",
    params: idParams,
    response: { 200: runView, ...errors },
  },
  listSuggestions: {
    tags: ['suggestions'],
    summary: "The learner's suggestions for the key's tenant (maintainers and admins also see the cross-tenant `*` ones)",
    querystring: { type: 'object', additionalProperties: false, properties: { template: NAME, state: { type: 'string', enum: [...SUGGESTION_STATES] } } } as const satisfies ObjectSchemaOf<SuggestionListQuery>,
    response: { 200: { type: 'object', required: ['suggestions'], properties: { suggestions: { type: 'array', items: suggestionView } } }, ...errors },
  },
  getSuggestion: {
    tags: ['suggestions'],
    summary: 'One suggestion',
    params: idParams,
    response: { 200: suggestionView, ...errors },
  },
  acceptSuggestion: {
    tags: ['suggestions'],
    summary: 'Accepts an open suggestion (the learner re-signs, versions and rolls it out as a canary; installation keys only)',
    params: idParams,
    body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 2000 } } },
    response: { 200: suggestionView, ...errors },
  },
  rejectSuggestion: {
    tags: ['suggestions'],
    summary: 'Rejects an open suggestion, with a reason',
    params: idParams,
    body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } } },
    response: { 200: suggestionView, ...errors },
  },
  rollback: {
    tags: ['templates'],
    summary: 'Rolls a template back to an earlier recorded, unretired version (default: the one before the current; installation keys only)',
    params: nameParams,
    body: { type: 'object', additionalProperties: false, properties: { to: { type: 'string', minLength: 1, maxLength: 64 } } },
    response: { 200: { type: 'object', required: ['name', 'version'], properties: { name: { type: 'string' }, version: { type: 'string' } } }, ...errors },
  },
  retireVersion: {
    tags: ['templates'],
    summary: 'Retires a version of a template: refused outside dev from now on, also by running servers (installation keys only)',
    params: { type: 'object', required: ['name', 'version'], additionalProperties: false, properties: { name: NAME, version: VERSION } },
    body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 2000 } } },
    response: {
      200: {
        type: 'object',
        required: ['name', 'version', 'retiredAt', 'reason', 'by', 'isNew'],
        properties: { name: { type: 'string' }, version: { type: 'string' }, retiredAt: { type: 'number' }, reason: { type: 'string' }, by: { type: 'string' }, isNew: { type: 'boolean' } },
      } as const satisfies ObjectSchemaOf<RetiredVersion>,
      ...errors,
    },
  },
  audit: {
    tags: ['audit'],
    summary: 'The audit log, newest first (installation-wide: installation admin keys only)',
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: { type: { type: 'string', maxLength: 128 }, subject: { type: 'string', maxLength: 256 }, afterSeq: { type: 'integer', minimum: 0 }, limit: LIMIT },
    } as const satisfies ObjectSchemaOf<AuditQuery>,
    response: { 200: { type: 'object', required: ['entries'], properties: { entries: { type: 'array', items: auditEntry } } }, ...errors },
  },
  healthz: {
    tags: ['health'],
    summary: 'Liveness: the process answers',
    response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } },
  },
  readyz: {
    tags: ['health'],
    summary: 'Readiness: the store answers, the sandbox has hosts, and the server is not shutting down',
    response: {
      '2xx': { $ref: 'Readiness#' },
      503: { $ref: 'Readiness#' },
    },
  },
} as const;

export const readinessSchema = {
  $id: 'Readiness',
  type: 'object',
  required: ['ready', 'checks'],
  properties: {
    ready: { type: 'boolean' },
    checks: {
      type: 'object',
      required: ['store', 'sandbox', 'server'],
      properties: {
        store: { type: 'string', enum: ['ok', 'failed', 'closed'] },
        sandbox: { type: 'string', enum: ['ok', 'failed'] },
        server: { type: 'string', enum: ['ok', 'closing'] },
      },
    } as const satisfies ObjectSchemaOf<ReadinessView['checks']>,
  },
} as const satisfies ObjectSchemaOf<ReadinessView>;

// `satisfies` above checks each schema's properties against its type; `required` must also list every field the type
// requires (a missing one would let an answer without it through, and its serialiser would drop nothing to warn).
type RequiredListed = [
  AssertNever<MissingRequired<ApiErrorResponse, typeof errorSchema>>,
  AssertNever<MissingRequired<ApiErrorResponse['error'], typeof errorSchema.properties.error>>,
  AssertNever<MissingRequired<RunStats, typeof runStatsSchema>>,
  AssertNever<MissingRequired<RunStats['logs'][number], typeof runStatsSchema.properties.logs.items>>,
  AssertNever<MissingRequired<RunView['denials'][number], typeof DENIAL>>,
  AssertNever<MissingRequired<TemplateSummary, typeof templateSummary>>,
  AssertNever<MissingRequired<NonNullable<TemplateSummary['error']>, typeof templateSummary.properties.error>>,
  AssertNever<MissingRequired<TemplateDetail, typeof templateDetail>>,
  AssertNever<MissingRequired<TemplateSignature, typeof templateDetail.properties.signature>>,
  AssertNever<MissingRequired<TemplateDetail['versions'][number], typeof templateDetail.properties.versions.items>>,
  AssertNever<MissingRequired<RunView, typeof runView>>,
  AssertNever<MissingRequired<Suggestion, typeof suggestionView>>,
  AssertNever<MissingRequired<JsonPatchOperation, typeof suggestionView.properties.patch.items>>,
  AssertNever<MissingRequired<AuditEntry, typeof auditEntry>>,
  AssertNever<MissingRequired<RunRequest, typeof ROUTE_SCHEMAS.runAgent.body>>,
  AssertNever<MissingRequired<RunResult, (typeof ROUTE_SCHEMAS.runAgent.response)[200]>>,
  AssertNever<MissingRequired<RetiredVersion, (typeof ROUTE_SCHEMAS.retireVersion.response)[200]>>,
  AssertNever<MissingRequired<ReadinessView, typeof readinessSchema>>,
  AssertNever<MissingRequired<ReadinessView['checks'], typeof readinessSchema.properties.checks>>,
];
