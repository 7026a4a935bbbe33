import { createTRPCClient, httpLink } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "../server/trpc/root";
import { answerShapeLink } from "./answer-shape";
import { checkApiKey, requestTimeoutMs } from "./config";
import { CliError, ExitCode } from "./errors";

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type Api = ReturnType<typeof createApi>;

/**
 * A typed tRPC client for `${url}/api/trpc`, sending the API key as a Bearer token. Each request
 * has a timeout (default SANDBOXER_TIMEOUT_MS, else 30 s), so a server that accepts connections
 * but never answers is reported.
 */
export function createApi(opts: { url: string; apiKey: string; timeoutMs?: number }) {
  const timeoutMs = opts.timeoutMs ?? requestTimeoutMs(process.env);
  return createTRPCClient<AppRouter>({
    links: [
      answerShapeLink(),
      httpLink({
        url: `${opts.url}/api/trpc`,
        headers: () => ({ authorization: `Bearer ${opts.apiKey}`, "user-agent": "sandboxer-cli" }),
        fetch: (input, init) => {
          const timeout = AbortSignal.timeout(timeoutMs);
          const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
          // A redirect is reported, not followed: a POST would arrive as a GET, and the key
          // would go wherever the server points.
          return fetch(input, { ...(init as RequestInit), signal, redirect: "manual" }).then((res) => {
            if (res.status < 300 || res.status >= 400) return res;
            const to = res.headers.get("location");
            throw new CliError(
              `the server at ${opts.url} answered with a redirect (HTTP ${res.status}${to ? ` to ${to}` : ""}); point --url / SANDBOXER_URL at the server's own address`,
              ExitCode.UNEXPECTED,
            );
          });
        },
      }),
    ],
  });
}

/**
 * The key to send, or a CliError: none at all (exit 5), or one that cannot be an API key (exit
 * 2, naming `from` — where it came from — and never the key).
 */
export function requireApiKey(apiKey: string | null, from = "the API key"): string {
  if (!apiKey) {
    throw new CliError(
      "no API key: pass --api-key, set SANDBOXER_API_KEY, or run `sandboxer login --url URL --api-key KEY` (after `npm run up`, a demo key is in .data/demo-credentials.txt)",
      ExitCode.AUTH,
    );
  }
  return checkApiKey(apiKey, from);
}
