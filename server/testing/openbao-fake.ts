import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local OpenBao/Vault KV v2 server for tests: `GET /v1/<mount>/data/<path>` with
 * `X-Vault-Token`, answering `{ data: { data: {…}, metadata: {…} } }`, 403 for a wrong token and
 * 404 for a missing secret, like the real one. `POST`/`PUT /v1/<mount>/data/<path>` with
 * `{ "data": {…} }` writes a secret, as `bao kv put` does. Test support only.
 */
export async function startOpenBaoFake(opts: { token: string; port?: number; host?: string }) {
  const secrets = new Map<string, Record<string, string>>();
  const versions = new Map<string, number>();
  let token = opts.token;
  const requests: { path: string; namespace: string | null }[] = [];
  const put = (mountAndPath: string, data: Record<string, string>) => {
    secrets.set(mountAndPath, data);
    versions.set(mountAndPath, (versions.get(mountAndPath) ?? 0) + 1);
  };
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    // Like the real server's health endpoint, for launchers that wait until it answers.
    if (req.method === "GET" && req.url === "/v1/sys/health") return send(200, { initialized: true, sealed: false });
    const m = /^\/v1\/([^/]+)\/data\/(.+)$/.exec(req.url ?? "");
    if (!m || !["GET", "POST", "PUT"].includes(req.method ?? "")) return send(404, { errors: [] });
    const key = `${m[1]}/${decodeURIComponent(m[2]!)}`;
    if (req.method === "GET") requests.push({ path: key, namespace: (req.headers["x-vault-namespace"] as string) ?? null });
    if (req.headers["x-vault-token"] !== token) return send(403, { errors: ["permission denied"] });
    if (req.method === "GET") {
      const data = secrets.get(key);
      if (!data) return send(404, { errors: [] });
      return send(200, { data: { data, metadata: { version: versions.get(key) ?? 1 } } });
    }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      let data: unknown;
      try {
        data = (JSON.parse(body) as { data?: unknown }).data;
      } catch {
        data = undefined;
      }
      const valid = data && typeof data === "object" && Object.values(data).every((v) => typeof v === "string");
      if (!valid) return send(400, { errors: ['body must be {"data": {"field": "string", …}}'] });
      put(key, data as Record<string, string>);
      send(200, { data: { version: versions.get(key) } });
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    put,
    rotateToken: (next: string) => {
      token = next;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
