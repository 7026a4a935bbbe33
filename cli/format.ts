/**
 * Pure parsing and formatting for the CLI: durations, money, times. No I/O, so it is unit-tested
 * directly (cli/format.test.ts).
 */
import { formatMicros } from "../server/money";
import { UsageError } from "./errors";

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
/** A bare number of seconds, or units in descending order each at most once: 1h30m, 10m, 90s. */
const DURATION_PATTERN = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
/** Sanity bound; the server enforces each profile's real maximum. */
const MAX_DURATION_SECONDS = 365 * 86_400;

/**
 * Parses a duration flag strictly: `90`, `90s`, `10m`, `1h`, `1h30m`, `2d`. Anything else —
 * zero, negatives, decimals, spaces, unknown units, units out of order — is a usage error that
 * names the flag.
 */
export function parseDuration(input: string, flag: string): number {
  const text = input.trim();
  const hint = "use whole seconds or units such as 90, 90s, 10m, 1h, 1h30m";
  if (text === "") throw new UsageError(`${flag}: a duration is required (${hint})`);
  if (text.startsWith("-")) throw new UsageError(`${flag}: "${input}" is negative; a duration must be positive`);
  let seconds: number;
  if (/^\d+$/.test(text)) {
    seconds = Number(text);
  } else {
    const m = DURATION_PATTERN.exec(text);
    if (!m) throw new UsageError(`${flag}: "${input}" is not a duration (${hint})`);
    const [, d, h, min, s] = m;
    seconds =
      Number(d ?? 0) * UNIT_SECONDS.d + Number(h ?? 0) * UNIT_SECONDS.h + Number(min ?? 0) * UNIT_SECONDS.m + Number(s ?? 0) * UNIT_SECONDS.s;
  }
  if (!Number.isSafeInteger(seconds)) throw new UsageError(`${flag}: "${input}" is too large`);
  if (seconds <= 0) throw new UsageError(`${flag}: "${input}" is zero; a duration must be positive`);
  if (seconds > MAX_DURATION_SECONDS) throw new UsageError(`${flag}: "${input}" is longer than a year`);
  return seconds;
}

/** Parses a positive integer flag such as --limit. */
export function parsePositiveInt(input: string, flag: string, max?: number): number {
  const text = input.trim();
  if (!/^\d+$/.test(text) || Number(text) <= 0) throw new UsageError(`${flag}: "${input}" is not a positive whole number`);
  const n = Number(text);
  if (max !== undefined && n > max) throw new UsageError(`${flag}: ${n} is above the maximum of ${max}`);
  return n;
}

/**
 * Micro-dollars (the API's integer strings) as exact dollars: "130" → "$0.000130". Never goes
 * through a JS float. null/undefined → "—".
 */
export function formatMoney(micros: string | bigint | null | undefined): string {
  if (micros === null || micros === undefined) return "—";
  let value: bigint;
  try {
    value = typeof micros === "bigint" ? micros : BigInt(micros);
  } catch {
    return String(micros);
  }
  const text = formatMicros(value < 0n ? -value : value);
  return `${value < 0n ? "-" : ""}$${text}`;
}

/** Sums micro-dollar strings exactly. */
export function sumMicros(values: Iterable<string | bigint | null | undefined>): bigint {
  let total = 0n;
  for (const v of values) if (v !== null && v !== undefined) total += BigInt(v);
  return total;
}

/**
 * A duration for people: 850ms, 45s, 4m 05s, 1h 30m, 2d 3h. Sub-second precision is kept only
 * below one second.
 */
export function humanMs(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  const negative = ms < 0;
  const abs = Math.abs(Math.round(ms));
  const sign = negative ? "-" : "";
  if (abs < 1_000) return `${sign}${abs}ms`;
  const totalSeconds = Math.floor(abs / 1_000);
  if (totalSeconds < 60) return `${sign}${totalSeconds}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return `${sign}${minutes}m${seconds ? ` ${pad(seconds)}s` : ""}`;
  const hours = Math.floor(minutes / 60);
  const restMinutes = minutes % 60;
  if (hours < 24) return `${sign}${hours}h${restMinutes ? ` ${pad(restMinutes)}m` : ""}`;
  const days = Math.floor(hours / 24);
  const restHours = hours % 24;
  return `${sign}${days}d${restHours ? ` ${restHours}h` : ""}`;
}

export const humanSeconds = (seconds: number) => humanMs(seconds * 1_000);

/** A TTL as typed on the command line: 600 → "10m", 5400 → "1h30m", 45 → "45s". */
export function compactSeconds(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) return `${seconds}s`;
  let rest = seconds;
  let out = "";
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** "in 4m 05s" / "4m 05s ago" relative to `now`. */
export function relativeTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "—";
  const diff = new Date(iso).getTime() - now.getTime();
  if (!Number.isFinite(diff)) return iso;
  if (Math.abs(diff) < 1_000) return "now";
  return diff > 0 ? `in ${humanMs(diff)}` : `${humanMs(-diff)} ago`;
}

/** An ISO time with its distance from now: "2026-12-03 13:57:43Z (12s ago)". */
export function timeWithRelative(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "—";
  return `${shortIso(iso)} (${relativeTime(iso, now)})`;
}

/** "2026-12-03T13:57:43.123Z" → "2026-12-03 13:57:43Z" (UTC, second precision). */
export function shortIso(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** The countdown shown for a sandbox's TTL. */
export function ttlCountdown(s: { state: string; expiresAt: string | null; ttlSeconds: number }, now: Date = new Date()): string {
  if (!s.expiresAt) return ["requested", "provisioning"].includes(s.state) ? `${compactSeconds(s.ttlSeconds)} once ready` : "—";
  if (["destroyed", "failed", "lost"].includes(s.state)) return "—";
  const left = new Date(s.expiresAt).getTime() - now.getTime();
  return left > 0 ? `in ${humanMs(left)}` : `due (${humanMs(-left)} ago)`;
}

export function formatResources(r: { vcpu: number; memoryMiB: number; gpu: number; gpuType: string | null } | null | undefined): string {
  if (!r) return "—";
  const memory = r.memoryMiB >= 1024 && r.memoryMiB % 1024 === 0 ? `${r.memoryMiB / 1024} GiB` : `${r.memoryMiB} MiB`;
  const gpu = r.gpu > 0 ? `, ${r.gpu}× ${r.gpuType ?? "GPU"}` : "";
  return `${r.vcpu} vCPU, ${memory}${gpu}`;
}
