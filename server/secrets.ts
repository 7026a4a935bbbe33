import fs from "node:fs/promises";
import path from "node:path";

/**
 * Secret references (`secret_ref`): strings that say where a secret lives, never the secret.
 *
 *   env:NAME                     an environment variable of the worker process
 *   file:/absolute/path          a file's contents (trailing newline trimmed)
 *   openbao://mount/path#field   a field of an OpenBao / Vault KV v2 secret
 *
 * Values are resolved at provision time and handed only to one adapter call. Errors name the
 * reference and what failed (not set, not found, permission denied, store unreachable), never
 * a value.
 */
export type SecretRef =
  | { scheme: "env"; name: string }
  | { scheme: "file"; path: string }
  | { scheme: "openbao"; mount: string; secretPath: string; field: string };

const ENV_RE = /^env:([A-Za-z_][A-Za-z0-9_]*)$/;
const FILE_RE = /^file:(\/[^\0]*)$/;
const BAO_RE = /^openbao:\/\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_./-]+)#([A-Za-z0-9_.-]+)$/;

export const SECRET_REF_HELP = 'a secret reference: "env:NAME", "file:/absolute/path" or "openbao://mount/path#field"';

export function parseSecretRef(ref: string): SecretRef | null {
  let m = ENV_RE.exec(ref);
  if (m) return { scheme: "env", name: m[1]! };
  m = FILE_RE.exec(ref);
  if (m && path.posix.normalize(m[1]!) === m[1]) return { scheme: "file", path: m[1]! };
  m = BAO_RE.exec(ref);
  // No "." or ".." segment, and no empty one, in the mount or the path: each would make the URL
  // the client requests differ from the path that was checked against the team's prefix.
  const dotted = (segments: string[]) => segments.some((p) => p === "." || p === ".." || p === "");
  if (m && !dotted([m[1]!]) && !dotted(m[2]!.split("/"))) return { scheme: "openbao", mount: m[1]!, secretPath: m[2]!, field: m[3]! };
  return null;
}

export type SecretResolution = { ok: true; values: Record<string, string> } | { ok: false; reason: string };
export type SecretResolver = (refs: Record<string, string>) => Promise<SecretResolution>;

export type OpenBaoSettings = { address: string; token: string | null; tokenFile: string | null; namespace: string | null; timeoutMs: number };

export function openBaoSettingsFrom(env: NodeJS.ProcessEnv): OpenBaoSettings | null {
  const address = env.SANDBOXER_OPENBAO_ADDR?.trim();
  if (!address) return null;
  if (!/^https?:\/\//.test(address)) throw new Error(`SANDBOXER_OPENBAO_ADDR: must start with http:// or https://, got ${address}`);
  return {
    address: address.replace(/\/+$/, ""),
    token: env.SANDBOXER_OPENBAO_TOKEN?.trim() || null,
    tokenFile: env.SANDBOXER_OPENBAO_TOKEN_FILE?.trim() || null,
    namespace: env.SANDBOXER_OPENBAO_NAMESPACE?.trim() || null,
    timeoutMs: Number(env.SANDBOXER_OPENBAO_TIMEOUT_MS ?? 3000) || 3000,
  };
}

class ResolveError extends Error {}

async function readOpenBao(settings: OpenBaoSettings | null, ref: Extract<SecretRef, { scheme: "openbao" }>, raw: string): Promise<string> {
  if (!settings) throw new ResolveError(`${raw}: no secret store configured (set SANDBOXER_OPENBAO_ADDR)`);
  // Read the token on every call, so a rotated token file takes effect without a restart.
  const token = settings.token ?? (settings.tokenFile ? (await fs.readFile(settings.tokenFile, "utf8").catch(() => "")).trim() : "");
  if (!token) throw new ResolveError(`${raw}: no secret store token (set SANDBOXER_OPENBAO_TOKEN or SANDBOXER_OPENBAO_TOKEN_FILE)`);
  const url = `${settings.address}/v1/${encodeURIComponent(ref.mount)}/data/${ref.secretPath.split("/").map(encodeURIComponent).join("/")}`;
  const headers: Record<string, string> = { "X-Vault-Token": token };
  if (settings.namespace) headers["X-Vault-Namespace"] = settings.namespace;
  let res: Response;
  try {
    // Never follow a redirect: fetch would resend X-Vault-Token (the platform token, which can
    // read every team's secrets) to whatever host the answer names.
    res = await fetch(url, { headers, redirect: "manual", signal: AbortSignal.timeout(settings.timeoutMs) });
  } catch {
    throw new ResolveError(`${raw}: secret store unreachable`);
  }
  if (res.status >= 300 && res.status < 400) {
    let target = "";
    try {
      target = ` to ${new URL(res.headers.get("location") ?? "", url).origin}`;
    } catch {
      // no usable Location
    }
    throw new ResolveError(`${raw}: secret store answered with a redirect (HTTP ${res.status}${target}), not followed; set SANDBOXER_OPENBAO_ADDR to the server that answers`);
  }
  if (res.status === 404) throw new ResolveError(`${raw}: secret not found`);
  if (res.status === 403 || res.status === 401) throw new ResolveError(`${raw}: permission denied by the secret store`);
  if (!res.ok) throw new ResolveError(`${raw}: secret store answered HTTP ${res.status}`);
  const body = (await res.json().catch(() => null)) as { data?: { data?: Record<string, unknown> } } | null;
  const value = body?.data?.data?.[ref.field];
  if (typeof value !== "string" || value === "") throw new ResolveError(`${raw}: field "${ref.field}" not found in the secret`);
  return value;
}

async function resolveOne(raw: string, env: NodeJS.ProcessEnv, bao: OpenBaoSettings | null): Promise<string> {
  const ref = parseSecretRef(raw);
  if (!ref) throw new ResolveError(`"${raw}" is not ${SECRET_REF_HELP}`);
  switch (ref.scheme) {
    case "env": {
      const value = env[ref.name];
      if (value === undefined || value.trim() === "") throw new ResolveError(`${raw} is not set`);
      return value;
    }
    case "file": {
      try {
        const value = (await fs.readFile(ref.path, "utf8")).replace(/\r?\n$/, "");
        if (!value) throw new ResolveError(`${raw}: file is empty`);
        return value;
      } catch (err) {
        if (err instanceof ResolveError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        throw new ResolveError(`${raw}: ${code === "ENOENT" ? "file not found" : code === "EACCES" ? "permission denied" : "file not readable"}`);
      }
    }
    case "openbao":
      return readOpenBao(bao, ref, raw);
  }
}

/** Resolves env:, file: and openbao:// references; nothing is cached, so rotations apply at once. */
export function createSecretResolver(env: NodeJS.ProcessEnv = process.env): SecretResolver {
  const bao = openBaoSettingsFrom(env);
  return async (refs) => {
    const values: Record<string, string> = {};
    for (const [field, ref] of Object.entries(refs)) {
      try {
        values[field] = await resolveOne(ref, env, bao);
      } catch (err) {
        if (!(err instanceof ResolveError)) throw err;
        return { ok: false, reason: `credential ${field}: ${err.message}` };
      }
    }
    return { ok: true, values };
  };
}

/**
 * Replaces every occurrence of the given secret values in `text`. Used on provider error
 * messages before they are stored or logged, in case a provider echoes request details.
 */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (s.length >= 4) out = out.split(s).join("[redacted]");
  }
  return out;
}

/**
 * Runs one adapter call and, if it throws, rethrows an error whose message has every credential
 * value scrubbed, so nothing downstream (failure reasons, logs, job errors) can carry one.
 */
export async function withScrubbedErrors<T>(credentials: Record<string, string>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const secrets = Object.values(credentials);
    if (!(err instanceof Error) || secrets.length === 0) throw err;
    const message = scrubSecrets(err.message, secrets);
    if (message === err.message) throw err;
    const ProviderErrorCtor = err.constructor as new (...args: unknown[]) => Error;
    if (err.name === "ProviderError") {
      const pe = err as Error & { kind: string; details: unknown };
      throw new ProviderErrorCtor(pe.kind, message, pe.details);
    }
    throw new Error(message);
  }
}
