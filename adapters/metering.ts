import { costMicros, type Rates } from "../server/money";
import type { MeterInput, MeterResult, SandboxSpec } from "./contract";

/** Per-second metering of allocated resources, the model E2B and the stub use. */
export function estimateAllocated(spec: SandboxSpec, rates: Rates, ttlSeconds: number): bigint {
  return costMicros(rates, { vcpuMilli: spec.vcpuMilli, memoryMiB: spec.memoryMiB, gpuCount: spec.gpuCount }, ttlSeconds * 1000);
}

export function meterAllocated(input: MeterInput): MeterResult {
  const durationMs = Math.max(0, input.endedAt.getTime() - input.startedAt.getTime());
  const { spec } = input;
  return {
    durationMs,
    costMicros: costMicros(input.rates, { vcpuMilli: spec.vcpuMilli, memoryMiB: spec.memoryMiB, gpuCount: spec.gpuCount }, durationMs),
  };
}
