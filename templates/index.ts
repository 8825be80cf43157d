/** @module templates — the control plane's template system: manifest schema, loading, inheritance, overlays, bundling, digests and the registry. */
export { canonicalJson } from '../core/canonical-json.js';
export { BUNDLE_FORMAT, BUNDLE_GLOBAL, bundleTemplate, sha256, type Bundle } from './bundle.js';
export { BundleCache, type CacheLookup } from './bundle-cache.js';
export { compileDataSchema, type DataValidation, type DataValidator } from './data-schema.js';
export { discoverTemplateNames, isInside } from './discover.js';
export { escapePointerToken, jsonSyntaxProblem, parseJsonSource, type JsonSource, type SourcePosition } from './json-source.js';
export { checkManifestSchema, MANIFEST_SCHEMA, MAX_MANIFEST_BYTES, type RawManifest, type ResolvedManifest, type JsonSchema, type DebugSettings } from './manifest.js';
export { mergeManifests, mergeOverlay } from './merge.js';
export { applyEnvironment, inheritChain, loadChain, MAX_EXTENDS_DEPTH, resolveTemplate, type BundleSource, type ResolveContext, type ResolvedTemplate } from './resolve.js';
export { TemplateRegistry, type RegistryInspectOptions, type TemplateAdmission, type RegistryResolveOptions, type ReloadFailure, type TemplateRegistryOptions } from './registry.js';
export { loadTemplateFile, MANIFEST_FILE, type TemplateFile } from './template-file.js';
export { validateTemplates, type TemplateReport } from './validate.js';
export { JsonTrustStore, type KeyRecord, type KeyRole, type Revocation, type TrustStore, type VersionRetirement } from './trust-store.js';
export { KeyRing, keyIdOf, keyIdOfCertificate, ROOT_VALID_DAYS, SIGNER_VALID_DAYS, type KeyRingOptions } from './keys.js';
export {
  readSignatureFile, signDigest, signedMessage, signTemplate, SignatureVerifier, SIGNATURE_ALGORITHM, SIGNATURE_FILE, writeSignatureFile,
  type SignableTemplate, type SignatureFile, type SignedBundle, type Verification,
} from './signature.js';
export { addressRulesOf, checkPolicy, DEFAULT_DEV_ENVIRONMENTS, DEFAULT_POLICY, hostPatternCovers, loadPolicy, ruleApplies, type AllowDeny, type NetRules, type Policy, type PolicyRule, type PolicySubject } from './policy.js';
export { isTrusted, TrustGate, type TrustAuditEvent, type TrustedTemplate, type TrustGateOptions, type TrustInfo } from './trust.js';
export { openProjectTrust, trustFileOf, type ProjectTrust } from './project-trust.js';
export { TemplateWatcher } from './watcher.js';
export { resolveStoredVersion, restoreStoredVersion, type RestoreOptions, type RestoreResult, type StoredVersion, versionFilesOf, vouchesForStoredVersion } from './stored-version.js';
