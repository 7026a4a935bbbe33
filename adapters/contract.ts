import type { Logger } from "pino";
import type { Rates } from "../server/money";

/** Where time comes from; tests pass a controllable one. */
export type Clock = { now(): Date };
export const systemClock: Clock = { now: () => new Date() };

/** Credential field → resolved secret value. Only ever held in memory for one adapter call. */
export type Credentials = Readonly<Record<string, string>>;

export type AdapterContext = {
  logger: Logger;
  clock: Clock;
  credentials: Credentials;
  signal?: AbortSignal;
};

/** What a profile asks for, in integer units. */
export type SandboxSpec = {
  template: string;
  vcpuMilli: number;
  memoryMiB: number;
  gpuCount: number;
  gpuType: string | null;
};

export type ProvisionRequest = {
  /** Sandboxer's own id; every provider create is tagged with it (invariant 4). */
  sandboxId: string;
  teamId: string;
  spec: SandboxSpec;
  /** Provider-side timeout: the provider ends the sandbox itself after this many seconds. */
  timeoutSeconds: number;
};

export type ProvisionResult = { providerSandboxId: string; startedAt: Date; endsAt: Date | null };

export type ProviderSandbox = {
  providerSandboxId: string;
  sandboxId: string | null;
  teamId: string | null;
  state: "starting" | "running" | "ended";
  startedAt: Date;
  /** When the provider will end it (running) or ended it (ended), if known. */
  endsAt: Date | null;
};

export type TeardownResult = {
  outcome: "terminated" | "already_gone";
  /** When the provider says it ended, if it knows (e.g. ended early on its own). */
  endedAt: Date | null;
};

export type ProviderErrorKind =
  | "auth"
  | "not_found"
  | "conflict"
  | "rate_limited"
  | "unavailable"
  | "capacity"
  | "invalid"
  | "timeout"
  | "unknown";

const RETRYABLE: Record<ProviderErrorKind, boolean> = {
  auth: false,
  not_found: false,
  conflict: true,
  rate_limited: true,
  unavailable: true,
  capacity: true,
  invalid: false,
  timeout: true,
  unknown: true,
};

/**
 * The one error type adapters throw. `message` must never contain credentials or request
 * headers: it is stored as a failure reason and shown to users.
 */
export class ProviderError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly details: { providerCode?: string; status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = "ProviderError";
    this.retryable = RETRYABLE[kind];
  }
}

export const isProviderError = (e: unknown): e is ProviderError => e instanceof ProviderError;

export type MeterInput = {
  spec: SandboxSpec;
  rates: Rates;
  startedAt: Date;
  endedAt: Date;
};
export type MeterResult = { durationMs: number; costMicros: bigint };

/**
 * The contract every provider backend implements. Adapters never touch the DB or the queue;
 * they get a logger, a clock and resolved credentials per call.
 */
export interface SandboxAdapter {
  readonly extensionId: string;
  readonly canExtend: boolean;

  /** Creates one sandbox tagged with `req.sandboxId`. One provider create per call, no retries. */
  provision(ctx: AdapterContext, req: ProvisionRequest): Promise<ProvisionResult>;
  /** Resolves when the sandbox accepts work; throws ProviderError(kind "timeout") past `timeoutMs`. */
  waitReady(ctx: AdapterContext, providerSandboxId: string, timeoutMs: number): Promise<{ readyAt: Date }>;
  /** Ends the sandbox. A sandbox the provider does not know is `already_gone`, not an error. */
  teardown(ctx: AdapterContext, providerSandboxId: string): Promise<TeardownResult>;
  /** Cost of holding `spec` for `ttlSeconds`, in micro-dollars. */
  estimateCost(spec: SandboxSpec, rates: Rates, ttlSeconds: number): bigint;
  /** Cost of what actually ran. */
  meterActual(input: MeterInput): MeterResult;
  /**
   * Every sandbox the provider holds that is tagged as Sandboxer's (all pages), optionally only
   * those tagged with one sandbox id. Throws if any page fails: a partial list proves nothing.
   */
  list(ctx: AdapterContext, filter?: { sandboxId?: string }): Promise<ProviderSandbox[]>;
  /** Moves the provider-side end. Only called when `canExtend`. Returns the effective end. */
  extend?(ctx: AdapterContext, providerSandboxId: string, endsAt: Date): Promise<{ endsAt: Date }>;
  /** Releases connections the adapter opened itself; called by Runtime.close. */
  close?(): Promise<void>;
}
