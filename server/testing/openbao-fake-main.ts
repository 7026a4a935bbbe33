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
import { startOpenBaoFake } from "./openbao-fake";

const USAGE = "usage: tsx server/testing/openbao-fake-main.ts --port N --token TOKEN [--host ADDR]";
let port = 0;
let host = "127.0.0.1";
let token = process.env.OPENBAO_FAKE_TOKEN ?? "";
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const [flag, inline] = argv[i]!.split(/=(.*)/s);
  const value = () => inline ?? argv[++i] ?? "";
  if (flag === "--port") port = Number(value());
  else if (flag === "--host") host = value();
  else if (flag === "--token") token = value();
  else {
    console.error(`unknown argument ${argv[i]}\n${USAGE}`);
    process.exit(2);
  }
}
if (!Number.isInteger(port) || port < 0 || !token) {
  console.error(USAGE);
  process.exit(2);
}

const bao = await startOpenBaoFake({ token, port, host });
console.log(`openbao fake listening on ${bao.url}`);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void bao.close().then(() => process.exit(0)));
}
