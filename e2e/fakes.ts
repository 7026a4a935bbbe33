/**
 * The provider-side fakes e2e/serve.mjs starts next to the console: an OpenBao KV v2 store
 * (team keys are bound as openbao:// references to it) and the E2B API fake. Fixed ports next
 * to the server's; playwright.config.ts hands these to serve.mjs.
 */
const PORT = Number(process.env.E2E_PORT ?? 3947);

export const OPENBAO_URL = process.env.E2E_OPENBAO_URL ?? `http://127.0.0.1:${PORT + 1}`;
export const OPENBAO_TOKEN = process.env.E2E_OPENBAO_TOKEN ?? "e2e-openbao-token";
export const E2B_URL = process.env.E2E_E2B_URL ?? `http://127.0.0.1:${PORT + 2}`;

/** Writes a KV v2 secret the way an operator would (`bao kv put mount/path field=value`). */
export async function putSecret(mountAndPath: string, data: Record<string, string>) {
  const [mount, ...rest] = mountAndPath.split("/");
  const res = await fetch(`${OPENBAO_URL}/v1/${mount}/data/${rest.join("/")}`, {
    method: "POST",
    headers: { "x-vault-token": OPENBAO_TOKEN, "content-type": "application/json" },
    body: JSON.stringify({ data }),
  });
  if (!res.ok) throw new Error(`OpenBao fake: writing ${mountAndPath} failed (${res.status})`);
}
