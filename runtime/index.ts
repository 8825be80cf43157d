/** @module runtime — the data plane's public face: createFactory, AgentFactory and Agent. */
export { createFactory, AgentFactory, type CreateAgentOptions, type FactoryOptions, type FactoryRunOptions } from './factory.js';
export { Agent, type AgentRunOptions, type RunOrigin, type RunReport, type RunSource, type RunStats } from './agent.js';
export { createMemoryRunSink, type MemoryRunSink } from './memory-run-sink.js';
export { inputShape } from './input-shape.js';
// What `factory.registry` resolves, for adapters that report it (api/, tui/): they import only the runtime.
export type { TrustedTemplate, TrustInfo } from '../templates/index.js';
export * from './telemetry/index.js';
// The run queue's two ends (a PostgreSQL store): runners take runs, a dispatcher queues them and waits.
export { QueuedRecordSink, Runner, type RunnerBackend, type RunnerClaim, type RunnerOptions, type RunnerStats } from './runner.js';
export { Dispatcher, type DispatchBackend, type DispatchOptions } from './dispatcher.js';
export { dispatchBackendOf, runnerBackendOf } from './fleet.js';
export type { QueuedRunRequest, QueuedRunResult } from './queued-run.js';
