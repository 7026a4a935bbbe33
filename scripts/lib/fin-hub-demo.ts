/**
 * The demo's fin-hub step (scripts/demo.ts): when SANDBOXER_FIN_HUB_URL points at a local
 * receiver (scripts/fin-hub-receiver.ts, which serves GET /totals), wait until it holds every
 * usage record of this run's teams and compare its totals with the ledger, to the micro-dollar.
 * Without the variable, or against a fin-hub with no /totals, it says so and checks nothing.
 */
import type { Api } from "../../cli/client";
import { formatMoney } from "../../cli/format";
import { table } from "../../cli/render";

type Totals = { by_team: Record<string, { records: number; total_micros: string }> };
export type FinHubCheck = { team: string; what: string; ok: boolean; detail: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function finHubChecks(
  teams: { name: string; api: Api; debitedMicros: bigint }[],
  log: (msg: string) => void,
  opts: { url?: string; waitMs?: number } = {},
): Promise<FinHubCheck[]> {
  const url = opts.url ?? process.env.SANDBOXER_FIN_HUB_URL;
  if (!url) {
    log("fin-hub: SANDBOXER_FIN_HUB_URL is not set here, so the export is not checked (docs/demo.md shows how)");
    return [];
  }
  const totalsUrl = new URL("/totals", url).toString();
  const fetchTotals = async (): Promise<Totals | null> => {
    try {
      const res = await fetch(totalsUrl, { signal: AbortSignal.timeout(5_000) });
      return res.ok ? ((await res.json()) as Totals) : null;
    } catch {
      return null;
    }
  };
  if (!(await fetchTotals())) {
    log(`fin-hub: ${totalsUrl} does not answer; it is not the local receiver, so its totals are not checked`);
    return [];
  }
  const ids = await Promise.all(teams.map(async (t) => (await t.api.me.whoami.query()).teamId ?? ""));
  const waitMs = opts.waitMs ?? Number(process.env.DEMO_FIN_HUB_WAIT_MS ?? 90_000);
  log(`fin-hub: waiting up to ${Math.round(waitMs / 1000)}s for the receiver to hold every record of this run (it exports every SANDBOXER_FIN_HUB_INTERVAL_MS)…`);
  const deadline = Date.now() + waitMs;
  let got: Totals | null = null;
  const received = (i: number) => BigInt(got?.by_team[ids[i]!]?.total_micros ?? "0");
  for (;;) {
    got = await fetchTotals();
    if (got && teams.every((t, i) => received(i) === t.debitedMicros)) break;
    if (Date.now() > deadline) break;
    await sleep(1_000);
  }
  const statuses = await Promise.all(teams.map((t) => t.api.finHub.status.query().catch(() => null)));
  const rows = teams.map((t, i) => [
    t.name,
    formatMoney(t.debitedMicros),
    formatMoney(statuses[i]?.exported.micros ?? null),
    formatMoney(received(i)),
    String(got?.by_team[ids[i]!]?.records ?? 0),
    received(i) === t.debitedMicros ? "equal" : "DIFFERENT",
  ]);
  const ledger = teams.reduce((s, t) => s + t.debitedMicros, 0n);
  const fin = teams.reduce((s, _, i) => s + received(i), 0n);
  rows.push(["ALL", formatMoney(ledger), "", formatMoney(fin), "", fin === ledger ? "equal" : "DIFFERENT"]);
  console.log("\nfin-hub (this run's teams):");
  console.log(table(["TEAM", "LEDGER DEBITS", "SANDBOXER: EXPORTED", "FIN-HUB RECEIVED", "RECORDS", "TO THE MICRO-DOLLAR"], rows));
  return teams.map((t, i) => ({
    team: t.name,
    what: "fin-hub received = ledger debits",
    ok: received(i) === t.debitedMicros,
    detail: `${formatMoney(received(i))} vs ${formatMoney(t.debitedMicros)}`,
  }));
}
