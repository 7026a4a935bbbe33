import diagnostics from "node:diagnostics_channel";
import { randomBytes } from "node:crypto";

/**
 * What the E2B API answered to one SDK call, as far as the SDK's errors do not say it.
 *
 * The SDK (2.51) turns an error response into an exception that keeps the message and, for most
 * classes, the HTTP status, but drops the `Retry-After` header and the body's `error_code`
 * (e.g. `sandbox_capacity_unavailable`). Its own answer to `Retry-After` is an internal retry,
 * which the adapter switches off (`retries: 0`) so that one adapter call is one HTTP request.
 * To still honour `Retry-After`, the adapter tags each call with a random header and reads the
 * response head (and the first few KB of an error body) from undici's public diagnostics
 * channels, which the SDK's HTTP client publishes to. Nothing is changed on the wire except the
 * tag, and request headers (which hold the API key) are only searched for the tag, never kept.
 */
export type Observed = { status?: number; retryAfterMs?: number; errorCode?: string };

export const CALL_HEADER = "x-sandboxer-call";
const MAX_ERROR_BODY = 4096;

type Entry = Observed & { body?: string; request?: object };
const inflight = new Map<string, Entry>();
const byRequest = new WeakMap<object, Entry>();
let subscribed = false;

/** The tag of a request, searched for in undici's header list (array or raw string). */
function callIdOf(headers: unknown): string | null {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === CALL_HEADER) return String(headers[i + 1]);
    }
    return null;
  }
  if (typeof headers === "string") {
    const m = new RegExp(`(?:^|\\r\\n)${CALL_HEADER}:\\s*([A-Za-z0-9]+)`, "i").exec(headers);
    return m ? m[1]! : null;
  }
  return null;
}

function headerValue(headers: unknown, name: string): string | null {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
    }
  } else if (headers && typeof headers === "object") {
    for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
      if (k.toLowerCase() === name) return Array.isArray(v) ? String(v[0]) : String(v);
    }
  }
  return null;
}

/** Retry-After as delay-seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

function subscribe() {
  if (subscribed) return;
  subscribed = true;
  diagnostics.subscribe("undici:request:headers", (msg) => {
    const { request, response } = msg as { request: { headers?: unknown }; response: { statusCode: number; headers: unknown } };
    const id = callIdOf(request.headers);
    const entry = id ? inflight.get(id) : undefined;
    if (!entry) return;
    entry.status = response.statusCode;
    entry.retryAfterMs = parseRetryAfter(headerValue(response.headers, "retry-after"));
    if (response.statusCode >= 400) {
      entry.body = "";
      byRequest.set(request, entry);
    }
  });
  diagnostics.subscribe("undici:request:bodyChunkReceived", (msg) => {
    const { request, chunk } = msg as { request: object; chunk: Uint8Array };
    const entry = byRequest.get(request);
    if (!entry || entry.body === undefined || entry.body.length >= MAX_ERROR_BODY) return;
    entry.body += Buffer.from(chunk).toString("utf8").slice(0, MAX_ERROR_BODY - entry.body.length);
  });
}

/**
 * Starts observing one SDK call: pass `headers` as the call's `apiHeaders`, and read `result()`
 * once the call has settled. `end()` forgets it.
 */
export function observeCall() {
  subscribe();
  const id = randomBytes(12).toString("hex");
  const entry: Entry = {};
  inflight.set(id, entry);
  return {
    headers: { [CALL_HEADER]: id } as Record<string, string>,
    result(): Observed {
      let errorCode: string | undefined;
      if (entry.body) {
        try {
          const parsed = JSON.parse(entry.body) as { error_code?: unknown };
          if (typeof parsed.error_code === "string" && /^[a-z0-9_.-]{1,64}$/i.test(parsed.error_code)) errorCode = parsed.error_code;
        } catch {
          // not JSON, or cut short: no code
        }
      }
      return { status: entry.status, retryAfterMs: entry.retryAfterMs, errorCode };
    },
    end() {
      inflight.delete(id);
    },
  };
}
