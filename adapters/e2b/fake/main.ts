/**
 * The E2B fake as its own process (test support, not product code):
 *
 *   npx tsx adapters/e2b/fake/main.ts [--port N] [--host ADDR] [--page-size N]
 *        [--max-concurrent N] [--plan-max-seconds N] [--creates-per-second N] [--api-key KEY]
 *
 * Prints one line `e2b fake listening on <url>` when ready. Faults and state are driven over
 * HTTP under /_fake/ (see e2b-fake.ts and docs/runbooks/e2b.md), e.g.
 *
 *   curl -X POST <url>/_fake/faults -d '{"op":"create","status":429,"retryAfterSeconds":5}'
 *   curl <url>/_fake/sandboxes
 */
import { parseFakeArgs, stopOnSignals } from "../../../server/testing/fake-main";
import { startE2bFake } from "./e2b-fake";

const USAGE = "usage: tsx adapters/e2b/fake/main.ts [--port N] [--host ADDR] [--page-size N] [--max-concurrent N] [--plan-max-seconds N] [--creates-per-second N] [--api-key KEY]";

const args = parseFakeArgs(process.argv.slice(2), USAGE, {
  port: { type: "int", min: 0, default: process.env.E2B_FAKE_PORT ?? "0" },
  host: { type: "string", default: "127.0.0.1" },
  "page-size": { type: "int", min: 1 },
  "max-concurrent": { type: "int", min: 0 },
  "plan-max-seconds": { type: "int", min: 1 },
  "creates-per-second": { type: "int", min: 1 },
  "api-key": { type: "string", multiple: true },
});
const fake = await startE2bFake({
  port: args.port ?? 0,
  host: args.host ?? "127.0.0.1",
  config: {
    ...(args["page-size"] !== undefined && { pageSize: args["page-size"] }),
    ...(args["max-concurrent"] !== undefined && { maxConcurrent: args["max-concurrent"] }),
    ...(args["plan-max-seconds"] !== undefined && { planMaxSeconds: args["plan-max-seconds"] }),
    ...(args["creates-per-second"] !== undefined && { createsPerSecond: args["creates-per-second"] }),
    ...(args["api-key"].length > 0 && { apiKeys: args["api-key"] }),
  },
});
console.log(`e2b fake listening on ${fake.url}`);
stopOnSignals(() => fake.close());
