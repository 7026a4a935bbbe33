/**
 * fin-hub request signatures: how Sandboxer signs a batch and the reference check a receiver
 * runs. Pure functions over bytes (node:crypto only), so fin-hub's owners can copy this file or
 * call `sandboxer fin-hub verify`. The format is documented in docs/runbooks/fin-hub.md.
 *
 *   X-Sandboxer-Timestamp: <unix seconds of this send>
 *   X-Sandboxer-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body bytes)>[, v1=<hex>]
 *
 * The body is signed as the exact bytes sent — never re-serialize parsed JSON before checking.
 * Several `v1=` entries appear while a secret is being rotated (one per secret); any match passes.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const FIN_HUB_HEADERS = {
  timestamp: "x-sandboxer-timestamp",
  signature: "x-sandboxer-signature",
  batchId: "x-sandboxer-batch-id",
  batchSeq: "x-sandboxer-batch-seq",
  attempt: "x-sandboxer-attempt",
  idempotencyKey: "idempotency-key",
} as const;

export const SIGNATURE_VERSION = "v1";
export const DEFAULT_TOLERANCE_SECONDS = 300;

type Bytes = string | Uint8Array;
const toBuffer = (b: Bytes) => (typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Hex HMAC-SHA256 over `<timestamp>.<body>`. */
export function computeSignature(secret: string, timestamp: number | string, body: Bytes): string {
  return createHmac("sha256", secret).update(`${timestamp}.`, "utf8").update(toBuffer(body)).digest("hex");
}

/** The two signature headers for one send, signed with every given secret (current first). */
export function signatureHeaders(secrets: string[], body: Bytes, now: Date = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  const sigs = secrets.map((s) => `${SIGNATURE_VERSION}=${computeSignature(s, timestamp, body)}`);
  return { [FIN_HUB_HEADERS.timestamp]: String(timestamp), [FIN_HUB_HEADERS.signature]: sigs.join(", ") };
}

export type VerifyFailure =
  | "missing_timestamp"
  | "malformed_timestamp"
  | "timestamp_too_old"
  | "timestamp_in_future"
  | "missing_signature"
  | "malformed_signature"
  | "signature_mismatch";

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: VerifyFailure; message: string };

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v.join(", ") : v;
}

const fail = (reason: VerifyFailure, message: string): VerifyResult => ({ ok: false, reason, message });

/**
 * Checks a received request: the timestamp is within `toleranceSeconds` of `now` (either way),
 * and some `v1=` signature matches some secret over `<timestamp>.<rawBody>`. `rawBody` must be
 * the bytes as received.
 */
export function verify(
  rawBody: Bytes,
  headers: HeaderSource,
  secret: string | string[],
  opts: { toleranceSeconds?: number; now?: Date } = {},
): VerifyResult {
  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const ts = header(headers, FIN_HUB_HEADERS.timestamp)?.trim();
  if (!ts) return fail("missing_timestamp", `no ${FIN_HUB_HEADERS.timestamp} header`);
  if (!/^\d{1,12}$/.test(ts)) return fail("malformed_timestamp", `${FIN_HUB_HEADERS.timestamp} must be unix seconds, got "${ts.slice(0, 40)}"`);
  const timestamp = Number(ts);
  if (now - timestamp > tolerance) return fail("timestamp_too_old", `timestamp ${timestamp} is ${now - timestamp}s old (tolerance ${tolerance}s)`);
  if (timestamp - now > tolerance) return fail("timestamp_in_future", `timestamp ${timestamp} is ${timestamp - now}s ahead (tolerance ${tolerance}s)`);

  const raw = header(headers, FIN_HUB_HEADERS.signature)?.trim();
  if (!raw) return fail("missing_signature", `no ${FIN_HUB_HEADERS.signature} header`);
  const candidates: Buffer[] = [];
  for (const part of raw.split(",")) {
    const [version, value] = part.trim().split("=", 2);
    if (version !== SIGNATURE_VERSION) continue; // unknown versions are skipped, not failed
    if (!value || !/^[0-9a-f]{64}$/.test(value)) return fail("malformed_signature", `a ${SIGNATURE_VERSION} signature must be 64 lowercase hex characters`);
    candidates.push(Buffer.from(value, "hex"));
  }
  if (candidates.length === 0) return fail("malformed_signature", `no ${SIGNATURE_VERSION}= signature in ${FIN_HUB_HEADERS.signature}`);
  const body = toBuffer(rawBody);
  for (const s of Array.isArray(secret) ? secret : [secret]) {
    const expected = Buffer.from(computeSignature(s, ts, body), "hex");
    if (candidates.some((c) => c.length === expected.length && timingSafeEqual(c, expected))) return { ok: true, timestamp };
  }
  return fail("signature_mismatch", "no signature matches the body with the given secret");
}
