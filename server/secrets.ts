/**
 * Secret references (`secret_ref`): strings that say where a secret lives, never the secret.
 * Supported now: `env:NAME`. Values are resolved at provision time and handed only to the
 * adapter call; nothing here logs or returns them except to that caller.
 */
export type SecretResolution =
  | { ok: true; values: Record<string, string> }
  | { ok: false; reason: string };

export type SecretResolver = (refs: Record<string, string>) => Promise<SecretResolution>;

export function createEnvSecretResolver(env: NodeJS.ProcessEnv = process.env): SecretResolver {
  return async (refs) => {
    const values: Record<string, string> = {};
    for (const [field, ref] of Object.entries(refs)) {
      const match = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(ref);
      if (!match) return { ok: false, reason: `credential ${field}: unsupported secret reference ${ref}` };
      const value = env[match[1]!];
      if (value === undefined || value.trim() === "") {
        return { ok: false, reason: `credential ${field}: ${ref} is not set` };
      }
      values[field] = value;
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
