/** @module api/access — who may call what: the least role per route, and the rules for tenants and cross-tenant (`*`) suggestions. */
import type { Suggestion } from '../core/suggestion.js';
import { type Principal, type Role, roleAtLeast } from '../store/index.js';

/** `public` routes need no key; the others need a key whose role is at least the one named. */
export type Access = 'public' | Role;

/**
 * The least role per route. Roles are per tenant and each includes the ones below it
 * (viewer < operator < maintainer < admin). Whatever the role, a key reads and touches only its own tenant's
 * runs, kv and suggestions: another tenant's run or suggestion answers 404, as if it did not exist.
 */
export const ROUTE_ACCESS = {
  'GET /v1/templates': 'viewer',
  'GET /v1/templates/:name': 'viewer',
  'POST /v1/agents/:name/runs': 'operator',
  'GET /v1/runs': 'viewer',
  'GET /v1/runs/:id': 'viewer',
  'GET /v1/suggestions': 'viewer',
  'GET /v1/suggestions/:id': 'viewer',
  'POST /v1/suggestions/:id/accept': 'maintainer',
  'POST /v1/suggestions/:id/reject': 'maintainer',
  'POST /v1/templates/:name/rollback': 'maintainer',
  // The audit log is installation-wide (trust decisions, key changes, every tenant's denials), so only admins read it.
  'GET /v1/audit': 'admin',
  'GET /v1/openapi.json': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  // Configurable (`metricsAccess`); public by default for Prometheus, which is why the server binds loopback by default.
  'GET /metrics': 'public',
} as const satisfies Record<string, Access>;

export type RouteKey = keyof typeof ROUTE_ACCESS;

/** Suggestions drawn from every tenant's runs carry this tenant. */
export const ALL_TENANTS = '*';

/**
 * A suggestion is visible to keys of its own tenant; a cross-tenant (`*`) one, whose evidence spans tenants, only to
 * maintainers and admins. Invisible ones answer 404.
 */
export function canSeeSuggestion(principal: Principal, suggestion: Suggestion): boolean {
  if (suggestion.tenant === principal.tenant) return true;
  return suggestion.tenant === ALL_TENANTS && roleAtLeast(principal.role, 'maintainer');
}

/** Deciding a cross-tenant (`*`) suggestion changes a template every tenant runs: admins only. */
export function roleToDecide(suggestion: Suggestion): Role {
  return suggestion.tenant === ALL_TENANTS ? 'admin' : 'maintainer';
}
