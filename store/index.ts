/** @module store — the SQLite record: runs, kv, template versions, keys, the audit log, tenants and API keys, and data operations. */
export { openStore, Store, type StoreOptions } from './store.js';
export { RunWriter, type RunWriterOptions } from './run-writer.js';
export { MIN_ID_PART, RunQueries, percentile, type RunFilter, type SequencedRun, type StoredCapture, type TemplateStats } from './run-queries.js';
export { SqliteKvStore, type KvNamespace, type KvSetResult } from './kv-store.js';
export { AuditLog, entryHash, GENESIS_HASH, type AuditAnchorReport, type AuditEntry, type AuditInput, type AuditLogOptions, type AuditProblem, type AuditProblemKind, type AuditVerification } from './audit-log.js';
export { AUDIT_ANCHOR_FILE, AUDIT_ANCHOR_KEY_FILE, AuditAnchor, type AnchorState, type AuditCheckpoint } from './audit-anchor.js';
export { TemplateVersions, type TemplateVersion, type TemplateVersionInput } from './template-versions.js';
export { SqliteTrustStore, type VersionRetirement } from './trust-store.js';
export { TRUST_SEAL_FILE, TRUST_SEAL_KEY_FILE, TrustSeal, type TrustSealOptions, type TrustSealState } from './trust-seal.js';
export { StateKey } from './state-key.js';
export { INSTALLATION_TENANT, isInstallationWide, roleAtLeast, ROLES, Tenants, type ApiKeyRecord, type Principal, type Role } from './tenants.js';
export { backupDatabase, exportJsonl, pruneCaptures, pruneRuns, readExport, restoreDatabase, type ExportCounts } from './data-ops.js';
export { integrityProblems, openDatabase } from './database.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate, type Migration } from './migrations.js';
export { splitZstdFrames } from './zstd-frames.js';
export { Suggestions, type SuggestionFilter } from './suggestions.js';
export { Rollouts, type Rollout, type RolloutState } from './rollouts.js';
export { LearnerModels } from './learner-models.js';
