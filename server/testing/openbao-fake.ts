import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local OpenBao/Vault KV v2 server for tests: `GET /v1/<mount>/data/<path>` with
 * `X-Vault-Token`, answering `{ data: { data: {…}, metadata: {…} } }`, 403 for a wrong token and
 * 404 for a missing secret, like the real one. Test support only.
 */
export async function startOpenBaoFake(opts: { token: string }) {
  const secrets = new Map<string, Record<string, string>>();
  let token = opts.token;
  const requests: { path: string; namespace: string | null }[] = [];
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const m = /^\/v1\/([^/]+)\/data\/(.+)$/.exec(req.url ?? "");
    if (req.method !== "GET" || !m) return send(404, { errors: [] });
    requests.push({ path: `${m[1]}/${decodeURIComponent(m[2]!)}`, namespace: (req.headers["x-vault-namespace"] as string) ?? null });
    if (req.headers["x-vault-token"] !== token) return send(403, { errors: ["permission denied"] });
    const data = secrets.get(`${m[1]}/${decodeURIComponent(m[2]!)}`);
    if (!data) return send(404, { errors: [] });
    send(200, { data: { data, metadata: { version: 1 } } });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    put: (mountAndPath: string, data: Record<string, string>) => secrets.set(mountAndPath, data),
    rotateToken: (next: string) => {
      token = next;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
