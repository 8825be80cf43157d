/** @module templates/trust — the gate from resolved to trusted: signature (or the dev waiver) and policy; only this module makes a TrustedTemplate. */
import type { AgentSpec } from '../core/agent-spec.js';
import { canonicalJson } from '../core/canonical-json.js';
import { FactoryError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { NetAddressRule } from '../core/net-address.js';
import { BUNDLE_FORMAT, sha256 } from './bundle.js';
import { addressRulesOf, checkPolicy, type Policy } from './policy.js';
import type { ResolvedTemplate } from './resolve.js';
import { readSignatureFile, type SignatureFile, type SignatureVerifier, type Verification } from './signature.js';
import type { TrustStore } from './trust-store.js';

/** How a template came to be trusted. */
export interface TrustInfo {
  /** `signed`: a valid signature; `waived`: unsigned or stale, allowed only in a development environment. */
  status: 'signed' | 'waived';
  verification?: Verification;
  /** The `agent.sig` that was verified. */
  signature?: SignatureFile;
  /** Why the signature was waived. */
  waiver?: string;
}

/** Makes a TrustedTemplate: set once by the class's static block, called only by {@link TrustGate.admit}. */
let mint: (template: ResolvedTemplate, spec: Readonly<AgentSpec>, trust: TrustInfo) => TrustedTemplate;

// The class below adds the brand and `trust`; this declaration gives it every field of the resolved template it copies.
export interface TrustedTemplate extends ResolvedTemplate {}

/**
 * A resolved template whose signature (or, in a development environment, the waiver of it) and policy checks passed:
 * the only thing the data plane runs. It is a type the compiler keeps apart, not a shape: the constructor is private
 * and minted in this module only, and the `#brand` cannot be written in an object literal nor copied by a spread
 * (`{ ...trusted }` is a plain object again, for TypeScript and at run time), so a parameter typed `TrustedTemplate`
 * takes only what {@link TrustGate.admit} returned, with no cast anywhere on the way.
 *
 * Dev templates are TrustedTemplates too, with `trust.status: 'waived'`: the gate still decided on them (retirement,
 * policy, the audit record of the waiver), and the runtime has one input type, so whether a run was signed is data it
 * reports (`signed: false`), never a second path.
 */
export class TrustedTemplate {
  readonly #brand = true;
  /** How the gate admitted it: a verified signature, or the dev waiver and why. */
  declare readonly trust: TrustInfo;

  static {
    mint = (template, spec, trust) => new TrustedTemplate(template, spec, trust);
  }

  private constructor(template: ResolvedTemplate, spec: Readonly<AgentSpec>, trust: TrustInfo) {
    Object.assign(this, template, { spec, trust: Object.freeze(trust) });
    Object.freeze(this);
  }

  /** True only for templates the gate admitted (a brand check: no prototype or shape can fake it). */
  static isTrusted(value: unknown): value is TrustedTemplate {
    return typeof value === 'object' && value !== null && #brand in value;
  }
}

/** A trust decision worth an audit record. */
export interface TrustAuditEvent {
  type: 'signature.waived' | 'signature.rejected' | 'policy.denied' | 'version.refused';
  template: string;
  version: string;
  env: string;
  digest: string;
  code?: string;
  message: string;
}

export interface TrustGateOptions {
  verifier: SignatureVerifier;
  policy: Policy;
  /**
   * Environments where unsigned templates may run (with a warning and an audit record) and policy rules that
   * name no environment do not apply. @default ['dev']
   */
  devEnvironments?: string[];
  /**
   * Retired template versions, refused outside `devEnvironments` on every resolve and every cache hit; when it is the
   * trust store and that has a seal, trust data not vouched for by the keys folder is refused there too. @default none retired
   */
  retirements?: Pick<TrustStore, 'retirement' | 'trustProblem'>;
  onAudit?(event: TrustAuditEvent): void;
  logger?: Logger;
}

/** True only for templates this module admitted: the data plane accepts nothing else. */
export function isTrusted(template: unknown): template is TrustedTemplate {
  return TrustedTemplate.isTrusted(template);
}

/** Admits resolved templates: verifies signatures (cached by digest) and applies the policy. */
export class TrustGate {
  readonly #verifier: SignatureVerifier;
  readonly #policy: Policy;
  readonly #devEnvironments: ReadonlySet<string>;
  /** The policy's address rules per environment, computed once: every template admitted in it carries them. */
  readonly #addressRules = new Map<string, readonly NetAddressRule[]>();
  readonly #retirements: Pick<TrustStore, 'retirement' | 'trustProblem'> | undefined;
  /** The trust-data problem last warned about in dev, so that it is said once, not on every run. */
  #warnedProblem: FactoryError | undefined;
  readonly #onAudit: (event: TrustAuditEvent) => void;
  readonly #logger: Logger;

  constructor(options: TrustGateOptions) {
    this.#verifier = options.verifier;
    this.#policy = options.policy;
    this.#devEnvironments = new Set(options.devEnvironments ?? ['dev']);
    this.#retirements = options.retirements;
    this.#onAudit = options.onAudit ?? (() => {});
    this.#logger = options.logger ?? silentLogger;
  }

  get policy(): Policy {
    return this.#policy;
  }

  /**
   * True for environments that run unsigned templates and retired versions (with a warning); there, a cached
   * bundle is reused by its sources alone.
   */
  isDevEnvironment(env: string): boolean {
    return this.#devEnvironments.has(env);
  }

  /**
   * The cold-path check of a freshly resolved template.
   * @throws FactoryError `E_VERSION_RETIRED`, `E_SIGNATURE_MISSING`, `E_SIGNATURE_INVALID`, `E_KEY_REVOKED`, `E_KEY_EXPIRED`, `E_POLICY_DENIED`.
   */
  admit(template: ResolvedTemplate, storedSignature?: SignatureFile): TrustedTemplate {
    const isDev = this.#devEnvironments.has(template.env);
    // Before anything read from the trust data: roots, revocations and retirements that nothing vouches for decide nothing.
    const tampered = this.#trustStateError(template.env);
    if (tampered) {
      this.#audit(template, 'signature.rejected', tampered);
      throw tampered;
    }
    // First: a retired version is refused whoever signed it, and saying so is clearer than any signature error.
    const retired = this.#retiredError(template);
    if (retired) {
      if (!isDev) {
        this.#audit(template, 'version.refused', retired);
        throw retired;
      }
      this.#logger.warn(`running "${template.name}" ${template.version} in ${template.env} although it is retired; every other environment refuses it`);
    }
    let trust: TrustInfo;
    try {
      // A version from the store brings its own signature; one on disk has agent.sig beside it.
      // Or the one resolve already read to pick a cached bundle: verifying that one checks what chose the bundle.
      const signature = storedSignature ?? template.signatureFile ?? readSignatureFile(template.dir, template.file.replace(/agent\.json$/, 'agent.sig'));
      if (!signature) {
        throw new FactoryError('E_SIGNATURE_MISSING', `template "${template.name}" is not signed, and ${template.env} runs only signed templates; sign it with \`af sign ${template.name}\``);
      }
      const verification = this.#verifier.verify(template.digest, signature);
      this.#checkBundle(template, verification);
      trust = { status: 'signed', verification, signature };
    } catch (error) {
      if (!(error instanceof FactoryError)) throw error;
      const isWaivable = error.code === 'E_SIGNATURE_MISSING' || error.code === 'E_SIGNATURE_INVALID';
      if (!isDev || !isWaivable) {
        this.#audit(template, 'signature.rejected', error);
        throw error;
      }
      const waiver = error.code === 'E_SIGNATURE_MISSING' ? 'unsigned' : `signature not valid: ${error.message}`;
      this.#logger.warn(`running "${template.name}" ${template.version} in ${template.env} without a valid signature (${waiver}); every other environment refuses it`);
      this.#audit(template, 'signature.waived', new FactoryError(error.code, waiver));
      trust = { status: 'waived', waiver };
    }
    try {
      checkPolicy(this.#policy, {
        name: template.name,
        env: template.env,
        dir: template.dir,
        manifest: template.manifest,
        ...(trust.verification ? { signer: { keyId: trust.verification.keyId, name: trust.verification.signer } } : {}),
      }, [...this.#devEnvironments]);
    } catch (error) {
      if (error instanceof FactoryError) this.#audit(template, 'policy.denied', error);
      throw error;
    }
    return mint(template, this.#specOf(template), trust);
  }

  /**
   * The signature covers the code that runs: the bundle must hash to the one it signed. One exception, for a
   * bundle built in this process from the sources the digest just verified when the signature does not pin a
   * bundle of this bundler (format 1, or esbuild changed since signing): the bundler is part of the trusted
   * installation and reads nothing but those sources, so that build is accepted, with a warning to sign again.
   * A bundle from the cache or the store is never accepted on that ground: anyone who can write `.af/` wrote it.
   */
  #checkBundle(template: ResolvedTemplate, verification: Verification): void {
    if (template.abstract) return;
    const signed = verification.bundle;
    if (signed?.sha256 === template.bundleSha256) return;
    const what = `"${template.name}" ${template.version}`;
    if (template.bundleOrigin === 'built' && signed?.bundler !== BUNDLE_FORMAT) {
      this.#logger.warn(
        signed
          ? `agent.sig of ${what} pins a bundle made by ${signed.bundler}, and this installation bundles with ${BUNDLE_FORMAT}: running a bundle built here from the verified sources, again in every process; sign it again with \`af sign\` to pin this one`
          : `agent.sig of ${what} was made before signatures covered the bundle: running a bundle built here from the verified sources, again in every process; sign it again with \`af sign\``,
      );
      return;
    }
    const hashes = `sha256 ${template.bundleSha256.slice(0, 16)}…${signed ? `, signed ${signed.sha256.slice(0, 16)}…` : ''}`;
    if (template.bundleOrigin === 'store') {
      throw new FactoryError(
        'E_SIGNATURE_INVALID',
        signed
          ? `stored version ${template.version} of "${template.name}" has a bundle that is not the one signed (${hashes}); the store was altered, so it does not run`
          : `stored version ${template.version} of "${template.name}" was signed before signatures covered the bundle, so its stored bundle cannot be checked; it does not run outside dev until you sign it again with \`af sign\``,
        { details: { actual: template.bundleSha256, ...(signed ? { signed: signed.sha256 } : {}) } },
      );
    }
    if (template.bundleOrigin === 'cache') {
      throw new FactoryError(
        'E_SIGNATURE_INVALID',
        signed
          ? `the cached bundle of ${what} is not the one signed (${hashes}); delete .af/cache/bundles, or sign it again with \`af sign\``
          : `agent.sig of ${what} was made before signatures covered the bundle, and this bundle came from the cache; sign it again with \`af sign\``,
        { details: { actual: template.bundleSha256, ...(signed ? { signed: signed.sha256 } : {}) } },
      );
    }
    throw new FactoryError(
      'E_SIGNATURE_INVALID',
      `the bundle built from the signed sources of ${what} is not the one signed (${hashes}), with the same bundler (${BUNDLE_FORMAT}): something besides the signed files changed the build; review it and sign again with \`af sign\``,
      { details: { actual: template.bundleSha256, signed: signed?.sha256 } },
    );
  }

  /** The hot-path check of a cached trusted template: revocation and expiry of its signer, and retirement of its version. */
  recheck(template: TrustedTemplate): void {
    const tampered = this.#trustStateError(template.env);
    if (tampered) throw tampered;
    if (template.trust.verification) this.#verifier.recheck(template.trust.verification);
    // Map lookups on data kept in memory (the store notices other processes' commits off this path): no I/O here.
    if (this.#retirements && !this.#devEnvironments.has(template.env)) {
      const retired = this.#retiredError(template);
      if (retired) throw retired;
    }
  }

  /** The trust store's problem when `env` is not a dev environment; in one, a warning (once per problem). A field read. */
  #trustStateError(env: string): FactoryError | undefined {
    const problem = this.#retirements?.trustProblem?.();
    if (!problem) return undefined;
    if (!this.#devEnvironments.has(env)) return problem;
    if (this.#warnedProblem !== problem) {
      this.#warnedProblem = problem;
      this.#logger.warn(`${problem.message} (dev runs it all the same)`);
    }
    return undefined;
  }

  #retiredError(template: ResolvedTemplate): FactoryError | undefined {
    const retirement = this.#retirements?.retirement(template.name, template.version);
    if (!retirement) return undefined;
    return new FactoryError(
      'E_VERSION_RETIRED',
      `version ${template.version} of template "${template.name}" was retired on ${new Date(retirement.retiredAt).toISOString()} (${retirement.reason || 'no reason given'}), and ${template.env} refuses retired versions; run a newer version (\`af versions list ${template.name}\`) or roll forward`,
      { details: { template: template.name, version: template.version, retiredAt: retirement.retiredAt, reason: retirement.reason } },
    );
  }

  /**
   * The spec with the environment's address rules, which the host enforces on every connection. They enter the
   * digest: sandbox pools are keyed by it, and a dev spec (no rules) must never serve a staging run.
   */
  #specOf(template: ResolvedTemplate): Readonly<AgentSpec> {
    let rules = this.#addressRules.get(template.env);
    if (rules === undefined) {
      rules = Object.freeze(addressRulesOf(this.#policy, template.env, [...this.#devEnvironments]).map((rule) => Object.freeze(rule)));
      this.#addressRules.set(template.env, rules);
    }
    if (rules.length === 0) return template.spec;
    return Object.freeze({ ...template.spec, netDeny: rules, digest: sha256(`${template.spec.digest}\n${canonicalJson(rules)}`) });
  }

  #audit(template: ResolvedTemplate, type: TrustAuditEvent['type'], error: FactoryError): void {
    this.#onAudit({ type, template: template.name, version: template.version, env: template.env, digest: template.digest, code: error.code, message: error.message });
  }
}
