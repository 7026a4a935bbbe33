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
import { startE2bFake, type FakeConfig } from "./e2b-fake";

const USAGE = "usage: tsx adapters/e2b/fake/main.ts [--port N] [--host ADDR] [--page-size N] [--max-concurrent N] [--plan-max-seconds N] [--creates-per-second N] [--api-key KEY]";

function parse(argv: string[]) {
  const out: { port: number; host: string; config: Partial<FakeConfig> } = { port: Number(process.env.E2B_FAKE_PORT ?? 0), host: "127.0.0.1", config: {} };
  const int = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      console.error(`${flag}: expected a whole number ≥ ${min}, got ${v}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--port":
        out.port = int(flag, value(), 0);
        break;
      case "--host":
        out.host = value() ?? out.host;
        break;
      case "--page-size":
        out.config.pageSize = int(flag, value(), 1);
        break;
      case "--max-concurrent":
        out.config.maxConcurrent = int(flag, value(), 0);
        break;
      case "--plan-max-seconds":
        out.config.planMaxSeconds = int(flag, value(), 1);
        break;
      case "--creates-per-second":
        out.config.createsPerSecond = int(flag, value(), 1);
        break;
      case "--api-key":
        out.config.apiKeys = [...(out.config.apiKeys ?? []), value() ?? ""];
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        console.error(`unknown argument ${argv[i]}\n${USAGE}`);
        process.exit(2);
    }
  }
  return out;
}

const opts = parse(process.argv.slice(2));
const fake = await startE2bFake({ port: opts.port, host: opts.host, config: opts.config });
console.log(`e2b fake listening on ${fake.url}`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void fake.close().then(() => process.exit(0));
  });
}
