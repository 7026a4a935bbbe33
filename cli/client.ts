import { createTRPCClient, httpLink } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "../server/trpc/root";
import { CliError, ExitCode } from "./errors";

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type Api = ReturnType<typeof createApi>;

/** Per-request timeout, so a server that accepts connections but never answers is reported. */
export const REQUEST_TIMEOUT_MS = Number(process.env.SANDBOXER_TIMEOUT_MS) > 0 ? Number(process.env.SANDBOXER_TIMEOUT_MS) : 30_000;

/** A typed tRPC client for `${url}/api/trpc`, sending the API key as a Bearer token. */
export function createApi(opts: { url: string; apiKey: string; timeoutMs?: number }) {
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${opts.url}/api/trpc`,
        headers: () => ({ authorization: `Bearer ${opts.apiKey}`, "user-agent": "sandboxer-cli" }),
        fetch: (input, init) => {
          const timeout = AbortSignal.timeout(timeoutMs);
          const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
          return fetch(input, { ...(init as RequestInit), signal });
        },
      }),
    ],
  });
}

export function requireApiKey(apiKey: string | null): string {
  if (!apiKey) {
    throw new CliError(
      "no API key: pass --api-key, set SANDBOXER_API_KEY, or run `sandboxer login --url URL --api-key KEY` (after `npm run up`, a demo key is in .data/demo-credentials.txt)",
      ExitCode.AUTH,
    );
  }
  return apiKey;
}
