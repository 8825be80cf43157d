/** @module api/access — who may call what: the least role per route, the installation-wide routes, and the rules for tenants and cross-tenant (`*`) suggestions. */
import type { Suggestion } from '../core/suggestion.js';
import { INSTALLATION_TENANT, isInstallationWide, type Principal, type Role, roleAtLeast } from '../store/index.js';

/**
 * An installation-wide role: a key of the installation tenant (`*`, `af keys api create --installation`) with at
 * least this role. What such a route changes or reads is shared by every tenant, so no tenant's role reaches it.
 */
export interface InstallationAccess {
  readonly installation: Role;
}

/** `public` routes need no key; a role needs a key of any tenant with at least that role; an {@link InstallationAccess} needs an installation key. */
export type Access = 'public' | Role | InstallationAccess;

/** The installation-wide form of a role. */
export function installationRole(role: Role): InstallationAccess {
  return Object.freeze({ installation: role });
}

/**
 * The least role per route. Roles are per tenant and each includes the ones below it
 * (viewer < operator < maintainer < admin). Whatever the role, a key reads and touches only its own tenant's
 * runs, kv and suggestions: another tenant's run or suggestion answers 404, as if it did not exist.
 * Routes that change or read what every tenant shares need an installation key.
 */
export const ROUTE_ACCESS = {
  'GET /v1/templates': 'viewer',
  'GET /v1/templates/:name': 'viewer',
  'POST /v1/agents/:name/runs': 'operator',
  'GET /v1/runs': 'viewer',
  'GET /v1/runs/:id': 'viewer',
  'GET /v1/suggestions': 'viewer',
  'GET /v1/suggestions/:id': 'viewer',
  // Accepting rewrites, re-signs and rolls out agent.json, which every tenant runs, whoever the suggestion was for.
  'POST /v1/suggestions/:id/accept': installationRole('maintainer'),
  // Rejecting a tenant's own suggestion touches only that tenant; rejecting a `*` one needs the installation (see accessToDecide).
  'POST /v1/suggestions/:id/reject': 'maintainer',
  // Rollback and retirement rewrite or withdraw the installation-wide agent.json and its versions.
  'POST /v1/templates/:name/rollback': installationRole('maintainer'),
  'POST /v1/templates/:name/versions/:version/retire': installationRole('maintainer'),
  // The audit log is installation-wide (trust decisions, key changes, every tenant's denials).
  'GET /v1/audit': installationRole('admin'),
  'GET /v1/openapi.json': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  // Configurable (`metricsAccess`); public by default for Prometheus, which is why the server binds loopback by default.
  'GET /metrics': 'public',
} as const satisfies Record<string, Access>;

export type RouteKey = keyof typeof ROUTE_ACCESS;

/** Suggestions drawn from every tenant's runs carry this tenant; it is also the installation's own tenant. */
export const ALL_TENANTS = INSTALLATION_TENANT;

/** True when `principal` has `access` (`public` always). */
export function isAllowed(principal: Principal | null, access: Access): boolean {
  if (access === 'public') return true;
  if (!principal) return false;
  if (typeof access === 'string') return roleAtLeast(principal.role, access);
  return isInstallationWide(principal) && roleAtLeast(principal.role, access.installation);
}

/** The access in words, for a 403's message. */
export function describeAccess(access: Access): string {
  if (access === 'public') return 'no key';
  if (typeof access === 'string') return `role ${access} or higher`;
  return `an installation key (\`af keys api create --installation\`) with role ${access.installation} or higher`;
}

/**
 * A suggestion is visible to keys of its own tenant; a cross-tenant (`*`) one, whose evidence spans tenants, only to
 * maintainers and admins; installation keys see every suggestion, since only they can accept one. Invisible ones answer 404.
 */
export function canSeeSuggestion(principal: Principal, suggestion: Suggestion): boolean {
  if (suggestion.tenant === principal.tenant || isInstallationWide(principal)) return true;
  return suggestion.tenant === ALL_TENANTS && roleAtLeast(principal.role, 'maintainer');
}

/**
 * Accepting any suggestion changes the template every tenant runs: installation maintainers only. Rejecting one only
 * closes it, so a tenant's maintainers may reject their tenant's suggestions, and a `*` one needs the installation.
 */
export function accessToDecide(verb: 'accept' | 'reject', suggestion: Suggestion): Access {
  return verb === 'accept' || suggestion.tenant === ALL_TENANTS ? installationRole('maintainer') : 'maintainer';
}
