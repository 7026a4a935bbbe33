/**
 * Money is integer micro-dollars (bigint). Provider rates are finer than a micro-dollar per
 * second, so they are held as integer pico-dollars per unit-second, parsed from decimal strings.
 *
 * The rounding rule (docs/money.md): the exact cost of a usage record is computed as a rational
 * number and rounded half-up to a whole micro-dollar ONCE, for the whole record. Nothing else
 * in the system rounds; debits, holds and exports all carry that integer.
 */

const PICO_PER_DOLLAR = 10n ** 12n;
const PICO_PER_MICRO = 10n ** 6n;
const RATE_PATTERN = /^(0|[1-9]\d*)(\.\d{1,12})?$/;
const DOLLARS_PATTERN = /^(0|[1-9]\d{0,9})(\.\d{1,6})?$/;

/** Parses a dollar rate such as "0.0000045" into integer pico-dollars. Throws on anything else. */
export function parseRatePico(rate: string): bigint {
  if (!RATE_PATTERN.test(rate)) {
    throw new Error(`"${rate}" is not a decimal dollar amount with at most 12 decimal places`);
  }
  const [whole = "0", frac = ""] = rate.split(".");
  return BigInt(whole) * PICO_PER_DOLLAR + BigInt(frac.padEnd(12, "0"));
}

/** Parses "12.50" (dollars, ≤ 6 decimals) into micro-dollars. */
export function parseDollarsToMicros(dollars: string): bigint {
  const trimmed = dollars.trim().replace(/^\$/, "");
  if (!DOLLARS_PATTERN.test(trimmed)) {
    if (/^(0|[1-9]\d*)(\.\d{1,6})?$/.test(trimmed))
      throw new Error(`"${dollars}" is too large an amount (at most 10 digits before the point)`);
    throw new Error(`"${dollars}" is not a dollar amount (digits with at most 6 decimal places)`);
  }
  const [whole = "0", frac = ""] = trimmed.split(".");
  return BigInt(whole) * 1_000_000n + BigInt(frac.padEnd(6, "0"));
}

/** Exact decimal dollars string for micro-dollars: 1234567n → "1.234567". */
export function formatMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const whole = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, "0");
  return `${negative ? "-" : ""}${whole}.${frac}`;
}

export type Rates = { vcpuSecondPico: bigint; gibSecondPico: bigint; gpuSecondPico: bigint };
/** Integer resource units: thousandths of a vCPU, MiB of memory, whole GPUs. */
export type MeteredResources = { vcpuMilli: number; memoryMiB: number; gpuCount: number };

const MILLI = 1000n;
const MIB_PER_GIB = 1024n;
const MS_PER_S = 1000n;

/**
 * Cost of running `resources` for `durationMs` at `rates`, in micro-dollars, rounded half-up
 * once. The numerator is scaled so that every term is an integer:
 *   cpu: pico/vCPU-s × milli-vCPU × ms   (÷ 1000 milli, ÷ 1000 ms)
 *   mem: pico/GiB-s × MiB × ms           (÷ 1024 MiB/GiB, ÷ 1000 ms)
 *   gpu: pico/GPU-s × GPUs × ms          (÷ 1000 ms)
 */
export function costMicros(rates: Rates, resources: MeteredResources, durationMs: number): bigint {
  if (!Number.isSafeInteger(durationMs) || durationMs < 0) {
    throw new Error(`durationMs must be a non-negative integer, got ${durationMs}`);
  }
  for (const [name, value] of Object.entries(resources)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Error(`resource ${name} must be a non-negative integer, got ${value}`);
    }
  }
  const ms = BigInt(durationMs);
  const denominator = MILLI * MIB_PER_GIB * MS_PER_S * PICO_PER_MICRO;
  const numerator =
    rates.vcpuSecondPico * BigInt(resources.vcpuMilli) * MIB_PER_GIB * ms +
    rates.gibSecondPico * BigInt(resources.memoryMiB) * MILLI * ms +
    rates.gpuSecondPico * BigInt(resources.gpuCount) * MILLI * MIB_PER_GIB * ms;
  return (numerator * 2n + denominator) / (denominator * 2n);
}
