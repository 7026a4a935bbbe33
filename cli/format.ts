/**
 * Pure parsing and formatting for the CLI: durations, money, times. No I/O, so it is unit-tested
 * directly (cli/format.test.ts).
 */
import { formatMemory } from "../lib/format";
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
 * The one style for lengths of time in human output: units largest first, separated by a space,
 * minutes and seconds after a larger unit padded to two digits (`4m 05s`, `1h 05m`).
 */
function joinUnits(parts: [number, string][]): string {
  return parts.map(([n, unit], i) => `${i > 0 && (unit === "m" || unit === "s") ? String(n).padStart(2, "0") : n}${unit}`).join(" ");
}

/**
 * A duration for people: 850ms, 45s, 4m 05s, 1h 30m, 2d 3h — the two largest units, so an
 * elapsed time reads at a glance. Sub-second precision is kept only below one second.
 */
export function humanMs(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  const negative = ms < 0;
  const abs = Math.abs(Math.round(ms));
  const sign = negative ? "-" : "";
  if (abs < 1_000) return `${sign}${abs}ms`;
  const totalSeconds = Math.floor(abs / 1_000);
  if (totalSeconds < 60) return `${sign}${totalSeconds}s`;
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return sign + joinUnits(seconds ? [[minutes, "m"], [seconds, "s"]] : [[minutes, "m"]]);
  const hours = Math.floor(minutes / 60);
  const restMinutes = minutes % 60;
  if (hours < 24) return sign + joinUnits(restMinutes ? [[hours, "h"], [restMinutes, "m"]] : [[hours, "h"]]);
  const days = Math.floor(hours / 24);
  const restHours = hours % 24;
  return sign + joinUnits(restHours ? [[days, "d"], [restHours, "h"]] : [[days, "d"]]);
}

/**
 * A set length of time (a TTL, an extension) for people, exact to the second and in the same
 * style as humanMs: 90 → "1m 30s", 600 → "10m", 5400 → "1h 30m", 5415 → "1h 30m 15s".
 */
export function humanSeconds(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) return humanMs(seconds * 1_000);
  let rest = seconds;
  const parts: [number, string][] = [];
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push([n, unit]);
    rest -= n * size;
  }
  return joinUnits(parts);
}

/**
 * A duration as typed on the command line: 600 → "10m", 5400 → "1h30m", 45 → "45s" (the inverse
 * of parseDuration, for values meant to be typed back; human output uses humanSeconds).
 */
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
  if (!s.expiresAt) return ["requested", "provisioning"].includes(s.state) ? `${humanSeconds(s.ttlSeconds)} once ready` : "—";
  if (["destroyed", "failed", "lost"].includes(s.state)) return "—";
  const left = new Date(s.expiresAt).getTime() - now.getTime();
  return left > 0 ? `in ${humanMs(left)}` : `due (${humanMs(-left)} ago)`;
}

export function formatResources(r: { vcpu: number; memoryMiB: number; gpu: number; gpuType: string | null } | null | undefined): string {
  if (!r) return "—";
  const memory = formatMemory(r.memoryMiB);
  const gpu = r.gpu > 0 ? `, ${r.gpu}× ${r.gpuType ?? "GPU"}` : "";
  return `${r.vcpu} vCPU, ${memory}${gpu}`;
}

/**
 * Characters a terminal acts on instead of showing: C0 controls (ESC, BEL, CR, …), DEL, C1
 * controls (U+009B is a one-byte CSI) and the bidi embeddings, overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069) that reorder what is shown.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_ALL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- as above
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const escapeChar = (ch: string) => {
  const cp = ch.codePointAt(0)!;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u${cp.toString(16).padStart(4, "0")}`;
};

/**
 * One value (from the server) as it may be shown on a terminal: the characters above, newlines
 * included, appear escaped (`\x1b`, `\x0a`, `\u202e`) so the value stays on its own line in its
 * own cell and cannot clear the screen, forge a link or reorder the text around it.
 */
export function printable(value: string): string {
  return value.replace(UNSAFE_ALL, escapeChar);
}

/** Human output as a whole: like printable, but keeps the CLI's own line breaks. */
export function printableLines(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, escapeChar);
}

const normalised = (s: string) => s.trim().replace(/[\s.,;!]+$/, "").toLowerCase();

/**
 * Provider error text without the repeats that come from layering messages: the E2B adapter
 * writes `HTTP 409: ` before the SDK's own `409: sandbox is busy`, and the SDK writes
 * `Rate limit exceeded, please try again later - <E2B's message>` where E2B's message is often
 * the same sentence. Shows each once: `HTTP 409: sandbox is busy`, `Rate limit exceeded, please
 * try again later`.
 */
export function withoutRepeats(text: string): string {
  return text
    .replace(/\bHTTP (\d{3})((?: \([^()]*\))?): \1: /g, "HTTP $1$2: ")
    .replace(/([^:;()]+) - ([^:;()]+?)(?=\s*(?:[;)]|$))/g, (whole, a: string, b: string) => {
      const [na, nb] = [normalised(a), normalised(b)];
      if (!na || !nb) return whole;
      if (na.startsWith(nb)) return a;
      if (nb.startsWith(na)) return `${a.slice(0, a.length - a.trimStart().length)}${b.trim()}`;
      return whole;
    });
}
