import { formatMicros, parseDollarsToMicros, parseRatePico } from "@/server/money";

/** The one minus sign money is shown with (the ledger's debits, a shortfall after a hold). */
export const MINUS = "\u2212";

/**
 * Money arrives as integer micro-dollar strings. Formatting goes through formatMicros (bigint,
 * exact) and only trims trailing zeros beyond the cents, so "$0.000123" stays visible and
 * "$100.00" does not show six zeros. Negative amounts take the minus sign (U+2212), as the
 * ledger writes debits: "−$0.50".
 */
export function formatMoney(micros: string | null | undefined): string {
  if (micros === null || micros === undefined || micros === "") return "—";
  let exact: string;
  try {
    exact = formatMicros(BigInt(micros));
  } catch {
    return "—";
  }
  const negative = exact.startsWith("-");
  const [whole = "0", frac = ""] = (negative ? exact.slice(1) : exact).split(".");
  const trimmed = frac.replace(/0+$/, "").padEnd(2, "0");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? MINUS : ""}$${grouped}.${trimmed}`;
}

/** A dollar amount typed by a person ("7.5", "$0.1") in the same form, or null if it is not one. */
export function formatDollarsInput(dollars: string): string | null {
  try {
    return formatMoney(parseDollarsToMicros(dollars).toString());
  } catch {
    return null;
  }
}

/**
 * A chart axis tick (a float of dollars, approximate by nature) in the same form as every other
 * amount: at least cents, "$1.50" not "$1.5".
 */
export function formatMoneyTick(dollars: number): string {
  if (!Number.isFinite(dollars)) return "";
  return formatMoney(String(Math.round(dollars * 1_000_000)));
}

/** Subtracts micro-dollar strings exactly. */
export function subtractMicros(a: string, b: string): string {
  return (BigInt(a) - BigInt(b)).toString();
}

/** Dollars as a float, for chart geometry only (bar heights); labels use formatMoney. */
export function microsToChartNumber(micros: string): number {
  return Number(BigInt(micros)) / 1_000_000;
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * UTC and fixed format, so the server's render and the browser's hydration agree whatever the
 * viewer's time zone.
 */
export function formatTime(at: string | Date | null | undefined): string {
  if (!at) return "—";
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** Memory as people write it: whole GiB as "32 GiB", anything else in MiB ("512 MiB"). */
export function formatMemory(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

/** "1h 05m", "4m 09s", "12s". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

/** Sandbox-hours; under a hundredth of an hour reads better as a duration ("13s"). */
export function formatHours(durationMs: number): string {
  if (durationMs > 0 && durationMs < 36_000) return formatDuration(durationMs / 1000);
  return `${(durationMs / 3_600_000).toFixed(2)} h`;
}

/** "profile.burst-sandbox" → "burst-sandbox"; ids stay recognisable but shorter. */
export const shortId = (id: string | null | undefined) =>
  id ? id.replace(/^(profile|ext)\./, "") : "—";

/** A per-second decimal rate ("0.000014") as an exact per-hour dollar amount ("$0.0504"). */
export function formatRatePerHour(ratePerSecond: string): string {
  let pico: bigint;
  try {
    pico = parseRatePico(ratePerSecond) * 3600n;
  } catch {
    return "—";
  }
  const whole = pico / 10n ** 12n;
  const frac = (pico % 10n ** 12n).toString().padStart(12, "0").replace(/0+$/, "").padEnd(2, "0");
  return `$${whole}.${frac}`;
}
