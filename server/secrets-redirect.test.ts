import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { createSecretResolver } from "./secrets";

// A secret store that answers with a redirect must not get the platform token sent on to the
// host it names: that token reads every team's secrets.
const tokensSeen: (string | undefined)[] = [];
const elsewhere = http.createServer((req, res) => {
  tokensSeen.push(req.headers["x-vault-token"] as string | undefined);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ data: { data: { api_key: "value-from-elsewhere" } } }));
});
const store = http.createServer((req, res) => {
  res.writeHead(307, { location: `http://localhost:${(elsewhere.address() as AddressInfo).port}${req.url}` });
  res.end();
});
const listen = (s: http.Server) => new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
await listen(elsewhere);
await listen(store);
afterAll(() => {
  store.close();
  elsewhere.close();
});

describe("an OpenBao answer that redirects", () => {
  it("is not followed, the token stays home, and the reason says so", async () => {
    const resolve = createSecretResolver({
      SANDBOXER_OPENBAO_ADDR: `http://127.0.0.1:${(store.address() as AddressInfo).port}`,
      SANDBOXER_OPENBAO_TOKEN: "platform-token-sentinel",
      NODE_ENV: "test",
    });
    const result = await resolve({ api_key: "openbao://secret/teams/t1/e2b#api_key" });
    expect(tokensSeen).toEqual([]);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(/^credential api_key: openbao:\/\/secret\/teams\/t1\/e2b#api_key: secret store answered with a redirect \(HTTP 307 to http:\/\/localhost:\d+\), not followed/),
    });
    expect(JSON.stringify(result)).not.toContain("platform-token-sentinel");
  });
});
