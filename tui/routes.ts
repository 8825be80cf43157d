/** @module tui/routes — where the UI can be (a stack of routes, like k9s) and the `:` commands that jump there. */

export type Route =
  | { view: 'templates'; filter?: string }
  | { view: 'template'; name: string; filter?: string }
  | { view: 'run'; template?: string; filter?: string }
  | { view: 'live'; filter?: string }
  | { view: 'runs'; filter?: string }
  | { view: 'run-detail'; id: string; filter?: string }
  | { view: 'suggestions'; filter?: string }
  | { view: 'suggestion'; id: string; filter?: string }
  | { view: 'audit'; filter?: string };

export type Command =
  | { kind: 'go'; route: Route }
  | { kind: 'task'; task: 'learn' | 'sign' }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'unknown'; text: string };

/** Every `:` command with its aliases and what it does, for the help and the error message. */
export const COMMANDS: ReadonlyArray<{ names: readonly string[]; usage: string; description: string }> = [
  { names: ['templates', 'tpl', 't'], usage: ':templates', description: 'templates: signature, pool, runs, error rate, p95' },
  { names: ['run'], usage: ':run [NAME]', description: 'edit an input and run an agent' },
  { names: ['live', 'l'], usage: ':live', description: 'runs per second, latencies, errors, pools' },
  { names: ['runs', 'r'], usage: ':runs', description: 'run history (filter: template:NAME outcome:error since:1h)' },
  { names: ['suggestions', 'sg', 's'], usage: ':suggestions', description: "the learner's suggestions; accept or reject" },
  { names: ['audit', 'a'], usage: ':audit', description: 'the audit log and its hash chain' },
  { names: ['learn'], usage: ':learn', description: 'train on the run record and propose changes' },
  { names: ['sign'], usage: ':sign', description: 'sign every template with the current signer' },
  { names: ['help', 'h'], usage: ':help', description: 'this help' },
  { names: ['quit', 'q', 'q!'], usage: ':q', description: 'quit' },
];

export function parseCommand(text: string): Command {
  const [word = '', ...rest] = text.trim().replace(/^:/, '').split(/\s+/);
  const name = word.toLowerCase();
  const match = COMMANDS.find((command) => command.names.includes(name));
  switch (match?.names[0]) {
    case 'templates':
      return { kind: 'go', route: { view: 'templates' } };
    case 'run':
      return { kind: 'go', route: rest[0] ? { view: 'run', template: rest[0] } : { view: 'run' } };
    case 'live':
      return { kind: 'go', route: { view: 'live' } };
    case 'runs':
      return { kind: 'go', route: rest.length > 0 ? { view: 'runs', filter: rest.join(' ') } : { view: 'runs' } };
    case 'suggestions':
      return { kind: 'go', route: { view: 'suggestions' } };
    case 'audit':
      return { kind: 'go', route: { view: 'audit' } };
    case 'learn':
      return { kind: 'task', task: 'learn' };
    case 'sign':
      return { kind: 'task', task: 'sign' };
    case 'help':
      return { kind: 'help' };
    case 'quit':
      return { kind: 'quit' };
    default:
      return { kind: 'unknown', text };
  }
}

/** The breadcrumb shown in the header. */
export function routeTitle(route: Route): string {
  switch (route.view) {
    case 'template':
      return `template ${route.name}`;
    case 'run':
      return route.template ? `run ${route.template}` : 'run';
    case 'run-detail':
      return `run ${route.id.slice(-8)}`;
    case 'suggestion':
      return `suggestion ${route.id}`;
    default:
      return route.view;
  }
}
