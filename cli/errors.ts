import { AnswerShapeError } from "./answer-shape";

/**
 * Exit codes and the mapping from API / network errors to them. Scripts rely on these numbers:
 * never renumber; add new ones at the end (and to docs/cli.md and the --help epilogue).
 */
export const ExitCode = {
  OK: 0,
  UNEXPECTED: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  INSUFFICIENT_CREDITS: 4,
  AUTH: 5,
  UNREACHABLE: 6,
  PRECONDITION: 7,
  SANDBOX_FAILED: 8,
  VERIFY_FAILED: 9,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_HELP = `Exit codes:
  0  ok
  1  unexpected error (a bug, an internal server error, an answer that is not the Sandboxer API)
  2  usage or bad input (bad flag, bad TTL, unknown profile; API BAD_REQUEST)
  3  not found (no such sandbox in your team)
  4  insufficient credits (API PAYMENT_REQUIRED)
  5  authentication or permission (no or wrong API key; UNAUTHORIZED/FORBIDDEN)
  6  server unreachable (connection refused, DNS failure, timeout)
  7  precondition failed (no eligible provider, cannot extend, conflicting state)
  8  --wait ended badly (the sandbox failed or was lost, or --timeout passed)
  9  fin-hub verify: the signature does not match, or the timestamp is too old`;

/** An error whose message is fit to show as `error: <message>`, with the exit code to use. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.USAGE);
    this.name = "UsageError";
  }
}

const byAppCode: Record<string, ExitCodeValue> = {
  INVALID_INPUT: ExitCode.USAGE,
  NOT_FOUND: ExitCode.NOT_FOUND,
  INSUFFICIENT_CREDITS: ExitCode.INSUFFICIENT_CREDITS,
  UNAUTHORIZED: ExitCode.AUTH,
  FORBIDDEN: ExitCode.AUTH,
  NO_ELIGIBLE_PROVIDER: ExitCode.PRECONDITION,
  CANNOT_EXTEND: ExitCode.PRECONDITION,
  CONFLICT: ExitCode.PRECONDITION,
};

const byTrpcCode: Record<string, ExitCodeValue> = {
  BAD_REQUEST: ExitCode.USAGE,
  PARSE_ERROR: ExitCode.USAGE,
  UNPROCESSABLE_CONTENT: ExitCode.USAGE,
  NOT_FOUND: ExitCode.NOT_FOUND,
  PAYMENT_REQUIRED: ExitCode.INSUFFICIENT_CREDITS,
  UNAUTHORIZED: ExitCode.AUTH,
  FORBIDDEN: ExitCode.AUTH,
  PRECONDITION_FAILED: ExitCode.PRECONDITION,
  CONFLICT: ExitCode.PRECONDITION,
};

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  ETIMEDOUT: "timed out",
  EPIPE: "connection closed",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
  UND_ERR_HEADERS_TIMEOUT: "no answer in time",
  UND_ERR_BODY_TIMEOUT: "no answer in time",
  UND_ERR_SOCKET: "connection closed",
};

type ErrorData = { code?: string; httpStatus?: number; appCode?: string | null; field?: string | null; requestId?: string | null };

function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  let cur: unknown = err;
  for (let i = 0; cur && i < 8; i++) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

/** Why the server could not be reached, or null when the error is not a network failure. */
export function networkProblem(err: unknown): string | null {
  for (const c of causes(err)) {
    const e = c as { code?: unknown; name?: unknown; errors?: unknown[] };
    if (typeof e.code === "string" && NETWORK_CODES[e.code]) return NETWORK_CODES[e.code]!;
    if (e.name === "TimeoutError") return "no answer in time";
    // Node's happy-eyeballs connect reports an AggregateError of per-address failures.
    if (Array.isArray(e.errors)) {
      for (const inner of e.errors) {
        const code = (inner as { code?: unknown }).code;
        if (typeof code === "string" && NETWORK_CODES[code]) return NETWORK_CODES[code]!;
      }
    }
  }
  for (const c of causes(err)) {
    if (c instanceof TypeError && /fetch failed/i.test(c.message)) {
      const inner = (c as { cause?: unknown }).cause;
      return inner instanceof Error && inner.message ? `request failed: ${inner.message}` : "request failed";
    }
  }
  return null;
}

/**
 * A TLS failure talking to the server, in words, or null. Node reports these by OpenSSL code
 * (e.g. an https:// URL pointed at a plain-http server fails with a "wrong version number").
 */
export function tlsProblem(err: unknown, url: string): string | null {
  for (const c of causes(err)) {
    const code = (c as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG" || code === "EPROTO") {
      const plain = url.replace(/^https:/i, "http:");
      return `the server at ${url} did not answer in TLS (${code}); if it serves plain HTTP, use ${plain}`;
    }
    if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_/.test(code)) {
      return `the TLS certificate of ${url} was not accepted (${code}); check the URL, or trust its CA with NODE_EXTRA_CA_CERTS=<file>`;
    }
  }
  return null;
}

export function unreachableMessage(url: string, why: string): string {
  return `cannot reach the Sandboxer server at ${url} (${why}). Is it running? Start one with \`npm run up\`, or point the CLI elsewhere with --url / SANDBOXER_URL.`;
}

/** What to do about a refused API key when the command does not say (see toCliError's authHint). */
export const DEFAULT_AUTH_HINT = "check the API key (--api-key, SANDBOXER_API_KEY or `sandboxer login`)";

/**
 * Turns anything thrown during a command into a CliError: tRPC errors by their app code first,
 * then their tRPC code; network failures as "unreachable"; the rest as unexpected. `authHint`
 * follows a refused key's message: what to check, for the command and where its key came from.
 */
export function toCliError(err: unknown, ctx: { url: string; authHint?: string }): CliError {
  if (err instanceof CliError) return err;
  const raised = causes(err).find((c): c is CliError => c instanceof CliError);
  if (raised) return raised;
  const data = (err as { data?: ErrorData } | null)?.data;
  const message = err instanceof Error ? err.message : String(err);
  if (data && (data.code || data.appCode)) {
    const field = data.field ?? null;
    const text = field && !message.startsWith(`${field}:`) ? `${field}: ${message}` : message;
    if (data.code === "NOT_FOUND" && !data.appCode && /no procedure/i.test(message)) {
      return new CliError(`${message} — the server at ${ctx.url} does not offer this call; are the CLI and server the same version?`, ExitCode.UNEXPECTED);
    }
    const code: ExitCodeValue = (data.appCode ? byAppCode[data.appCode] : undefined) ?? (data.code ? byTrpcCode[data.code] : undefined) ?? ExitCode.UNEXPECTED;
    if (data.code === "UNAUTHORIZED") {
      return new CliError(`${text} — ${ctx.authHint ?? DEFAULT_AUTH_HINT}`, code);
    }
    return new CliError(text, code);
  }
  const tls = tlsProblem(err, ctx.url);
  if (tls) return new CliError(tls, ExitCode.UNREACHABLE);
  const why = networkProblem(err);
  if (why) return new CliError(unreachableMessage(ctx.url, why), ExitCode.UNREACHABLE);
  const status = (err as { meta?: { response?: { status?: number } } }).meta?.response?.status;
  const shape = causes(err).find((c): c is AnswerShapeError => c instanceof AnswerShapeError);
  if (shape) {
    return new CliError(
      `the server at ${ctx.url} did not answer like the Sandboxer API (its answer to ${shape.path} has another shape); is --url / SANDBOXER_URL right, and are the CLI and the server the same version?`,
      ExitCode.UNEXPECTED,
    );
  }
  if (causes(err).some((c) => c instanceof SyntaxError)) {
    return new CliError(
      `the server at ${ctx.url} did not answer like the Sandboxer API${status ? ` (HTTP ${status})` : ""}; is --url / SANDBOXER_URL right?`,
      ExitCode.UNEXPECTED,
    );
  }
  // An HTTP answer in JSON that carries no tRPC error data: another service's JSON (`{}`, a 404
  // `{"error":"Not Found"}`, a proxy's `{"error":{"message":…}}`). The Sandboxer API always
  // sends data.code. tRPC's client calls the first kind "Unable to transform response from server".
  if (status !== undefined && (err as { name?: unknown }).name === "TRPCClientError") {
    const said = message && !/^Unable to transform response from server$/i.test(message) ? `: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}` : "";
    return new CliError(
      `the server at ${ctx.url} did not answer like the Sandboxer API (HTTP ${status}${said}); is --url / SANDBOXER_URL right?`,
      ExitCode.UNEXPECTED,
    );
  }
  return new CliError(message || "unexpected error", ExitCode.UNEXPECTED);
}
