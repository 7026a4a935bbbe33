/**
 * The OpenBao KV v2 fake as its own process (test support, not product code), for the e2e
 * server (e2e/serve.mjs):
 *
 *   npx tsx server/testing/openbao-fake-main.ts --port N --token TOKEN
 *
 * Prints one line `openbao fake listening on <url>` when ready. Secrets are written the way
 * an operator would, with the KV v2 API:
 *
 *   curl -X POST -H "X-Vault-Token: TOKEN" <url>/v1/secret/data/teams/acme/e2b \
 *        -d '{"data":{"api_key":"…"}}'
 */
import { parseFakeArgs, stopOnSignals } from "./fake-main";
import { startOpenBaoFake } from "./openbao-fake";

const USAGE = "usage: tsx server/testing/openbao-fake-main.ts --port N --token TOKEN [--host ADDR]";
const args = parseFakeArgs(process.argv.slice(2), USAGE, {
  port: { type: "int", min: 0, default: "0" },
  host: { type: "string", default: "127.0.0.1" },
  token: { type: "string", default: process.env.OPENBAO_FAKE_TOKEN ?? "" },
});
if (!args.token) {
  console.error(`--token must not be empty\n${USAGE}`);
  process.exit(2);
}

const bao = await startOpenBaoFake({ token: args.token, port: args.port ?? 0, host: args.host ?? "127.0.0.1" });
console.log(`openbao fake listening on ${bao.url}`);
stopOnSignals(() => bao.close());
