/** @module templates/validate — checks templates from scratch and reports every problem as data (what `af validate` prints). */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ErrorCode, Problem } from '../core/errors.js';
import { toFactoryError } from '../core/errors.js';
import type { BundleCache } from './bundle-cache.js';
import { discoverTemplateNames } from './discover.js';
import { resolveTemplate } from './resolve.js';
import { MANIFEST_FILE } from './template-file.js';

/** The verdict on one template. */
export interface TemplateReport {
  name: string;
  valid: boolean;
  version?: string;
  abstract?: boolean;
  extends?: string;
  description?: string;
  digest?: string;
  /** Set when invalid: the error code and every problem, each with file, line and pointer. */
  code?: ErrorCode;
  message?: string;
  problems: Problem[];
}

export interface ValidateTemplatesOptions {
  env: string;
  displayRoot: string;
  bundleCache?: BundleCache;
}

/**
 * Validates what `target` names: a template folder (holds `agent.json`), an agents folder, or a
 * project root (holds `agents/`). Templates are resolved fully: schema, extends, overlay, schemas, bundle.
 * @returns one report per template, sorted by name; `undefined` when `target` holds no templates.
 */
export async function validateTemplates(target: string, options: ValidateTemplatesOptions): Promise<TemplateReport[] | undefined> {
  const absolute = path.resolve(target);
  let agentsDir: string;
  let names: string[];
  if (existsSync(path.join(absolute, MANIFEST_FILE))) {
    agentsDir = path.dirname(absolute);
    names = [path.basename(absolute)];
  } else if (existsSync(path.join(absolute, 'agents')) && statSync(path.join(absolute, 'agents')).isDirectory()) {
    agentsDir = path.join(absolute, 'agents');
    names = discoverTemplateNames(agentsDir);
  } else {
    agentsDir = absolute;
    names = discoverTemplateNames(agentsDir);
    if (names.length === 0) return undefined;
  }
  const context = { agentsDir, displayRoot: options.displayRoot, ...(options.bundleCache ? { bundleCache: options.bundleCache } : {}) };
  const reports: TemplateReport[] = [];
  for (const name of names) {
    try {
      const template = await resolveTemplate(context, name, { env: options.env, allowAbstract: true });
      reports.push({
        name,
        valid: true,
        version: template.version,
        abstract: template.abstract,
        ...(template.manifest.extends ? { extends: template.manifest.extends } : {}),
        description: template.manifest.description,
        ...(template.abstract ? {} : { digest: template.digest }),
        problems: [],
      });
    } catch (error) {
      const failure = toFactoryError(error);
      reports.push({
        name,
        valid: false,
        code: failure.code,
        message: failure.message,
        problems: failure.problems.length > 0 ? failure.problems : [{ message: failure.message }],
      });
    }
  }
  return reports;
}
