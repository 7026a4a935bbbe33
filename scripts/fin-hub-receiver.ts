/**
 * A local fin-hub to point Sandboxer at (docs/runbooks/fin-hub.md, docs/demo.md):
 *
 *   SANDBOXER_FIN_HUB_SECRET=… npx tsx scripts/fin-hub-receiver.ts [--port 4319] [--latency-ms 0] [--fail-rate 0]
 *
 * Checks every request's signature with the reference verifier, stores each batch once by
 * batch id, prints each batch and the running total, and serves GET /totals (JSON: batches,
 * records, total, per team). --fail-rate answers that share of POSTs with a 503, to watch the
 * retries. Ctrl-C prints the final total.
 */
import { Command } from "commander";
import { formatMicros } from "../server/money";
import { startFinHubReceiver } from "../server/testing/fin-hub-receiver";

const o = new Command("fin-hub-receiver")
  .description("Run a local fin-hub that verifies, dedupes and totals Sandboxer's billing batches.")
  .option("--port <n>", "port to listen on", "4319")
  .option("--host <addr>", "address to listen on", "127.0.0.1")
  .option("--latency-ms <n>", "wait this long before answering each batch", "0")
  .option("--fail-rate <fraction>", "answer this share of batches with HTTP 503 (0..1)", "0")
  .option(
    "--secret-env <VAR>",
    "environment variable holding the signing secret",
    "SANDBOXER_FIN_HUB_SECRET",
  )
  .option("--quiet", "print only the final total")
  .parse(process.argv)
  .opts<{
    port: string;
    host: string;
    latencyMs: string;
    failRate: string;
    secretEnv: string;
    quiet?: boolean;
  }>();

const secret = process.env[o.secretEnv];
if (!secret) {
  console.error(
    `fin-hub-receiver: ${o.secretEnv} is not set; export the same secret the Sandboxer server signs with`,
  );
  process.exit(2);
}
const previous = process.env.SANDBOXER_FIN_HUB_SECRET_PREVIOUS;
const failRate = Number(o.failRate);
if (!(failRate >= 0 && failRate <= 1)) {
  console.error(`fin-hub-receiver: --fail-rate must be between 0 and 1`);
  process.exit(2);
}

const receiver = await startFinHubReceiver({
  secret: previous ? [secret, previous] : secret,
  port: Number(o.port),
  host: o.host,
  latencyMs: Number(o.latencyMs),
  decide: () =>
    Math.random() < failRate
      ? { kind: "status", status: 503, body: "random failure (--fail-rate)" }
      : null,
  onBatch: (b) => {
    if (o.quiet) return;
    const micros = b.body.records.reduce((s, r) => s + BigInt(r.cost_micros), 0n);
    console.log(
      `batch #${b.seq} ${b.id}: ${b.body.records.length} records, $${formatMicros(micros)} — fin-hub now holds ${receiver.records} records, $${formatMicros(receiver.totalMicros)}`,
    );
  },
});
console.log(`fin-hub receiver on ${receiver.url} (totals: GET ${receiver.totalsUrl})`);
console.log(
  `start Sandboxer with SANDBOXER_FIN_HUB_URL=${receiver.url} and the same SANDBOXER_FIN_HUB_SECRET`,
);

const stop = async () => {
  const t = receiver.totals();
  console.log(
    `\nfin-hub received ${t.batches} batches, ${t.records} records, $${t.total} (duplicates ${t.duplicates}, rejected signatures ${t.rejectedSignatures}, record conflicts ${t.recordConflicts})`,
  );
  await receiver.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
