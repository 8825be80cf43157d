/** @module runtime/telemetry/sdk-state — which global OpenTelemetry providers are live, shared by telemetry.ts and enable.ts without importing the SDK. */
import { createNoopMeter, metrics, ProxyTracerProvider, trace } from '@opentelemetry/api';
import { SCOPE_NAME } from './names.js';

// A proxy with no delegate answers with the API's no-op provider: the one object to compare against.
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();
const NOOP_METER = createNoopMeter();

/**
 * Bumped whenever this module registers or removes global providers, so `Telemetry` objects created earlier
 * re-read the globals with one integer comparison instead of asking the API on every call.
 */
let generation = 0;

export function sdkGeneration(): number {
  return generation;
}

export function bumpSdkGeneration(): void {
  generation++;
}

/** True when some SDK (ours or the host application's) registered a global tracer provider. */
export function isGlobalTracingLive(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_TRACER_PROVIDER);
}

/** True when some SDK registered a global meter provider. */
export function isGlobalMetricsLive(): boolean {
  // Asks for the meter Telemetry uses anyway, so a live SDK gains no stray scope from the probe.
  return metrics.getMeter(SCOPE_NAME) !== NOOP_METER;
}
