/**
 * `sandboxer reconciler findings`: what the reconciler found on the providers about your team
 * and what it did (orphans killed with how long they had run; sandboxes marked lost). Admins
 * only (owner, admin); the server scopes the list to the caller's team.
 */
import type { Command } from "commander";
import type { Api, RouterOutputs } from "./client";
import { parsePositiveInt, humanMs, shortIso, relativeTime, withoutRepeats } from "./format";
import { table } from "./render";
import { UsageError } from "./errors";

type FindingsPage = RouterOutputs["reconciler"]["findings"];
type Ctx = { json: boolean; api: () => Api; out: (text: string) => void; emitJson: (value: unknown) => void };
const KINDS = ["orphan", "lost", "listing_failed"] as const;

export function findingsTable(page: Pick<FindingsPage, "items" | "summary">, now: Date = new Date()): string {
  const s = page.summary;
  const head =
    `Reconciler: ${s.orphan} orphan${s.orphan === 1 ? "" : "s"} killed, ${s.lost} sandbox${s.lost === 1 ? "" : "es"} marked lost` +
    (s.lastAt ? `; last finding ${shortIso(s.lastAt)} (${relativeTime(s.lastAt, now)})` : "; nothing found so far");
  if (page.items.length === 0) return head;
  const rows = page.items.map((f) => [
    shortIso(f.at),
    f.kind,
    f.extensionId,
    f.sandboxId ?? "—",
    f.providerSandboxId ?? "—",
    f.observedRunMs !== null ? humanMs(f.observedRunMs) : "—",
    [f.action, f.detail && withoutRepeats(f.detail)].filter(Boolean).join(" — "),
  ]);
  return `${head}\n${table(["FOUND", "KIND", "PROVIDER", "SANDBOX", "PROVIDER SANDBOX", "HAD RUN", "ACTION"], rows)}`;
}

export function registerReconcilerCommands(program: Command, ctx: (cmd: Command) => Ctx) {
  const reconciler = program.command("reconciler").description("what the provider reconciler found about your team and did (admin)");
  reconciler
    .command("findings")
    .description("orphans the reconciler killed and sandboxes it marked lost, newest first")
    .option("-k, --kind <kind>", `only one kind: ${KINDS.join(", ")}`)
    .option("-e, --extension <extension>", "only one provider extension, e.g. ext.saas-stub")
    .option("-n, --limit <n>", "page size, 1-200 (default 50)")
    .option("-a, --all", "follow nextCursor and list every finding")
    .action(async (opts: { kind?: string; extension?: string; limit?: string; all?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      if (opts.kind !== undefined && !(KINDS as readonly string[]).includes(opts.kind)) {
        throw new UsageError(`--kind: "${opts.kind}" is not a finding kind (${KINDS.join(", ")})`);
      }
      const limit = opts.limit !== undefined ? parsePositiveInt(opts.limit, "--limit", 200) : opts.all ? 200 : undefined;
      const filter = { kind: opts.kind as (typeof KINDS)[number] | undefined, extensionId: opts.extension, limit };
      const api = c.api();
      let page = await api.reconciler.findings.query(filter);
      const items = [...page.items];
      while (opts.all && page.nextCursor) {
        page = await api.reconciler.findings.query({ ...filter, cursor: page.nextCursor });
        items.push(...page.items);
      }
      const result = { items, nextCursor: page.nextCursor, summary: page.summary };
      if (c.json) return c.emitJson(result);
      c.out(findingsTable(result));
      if (result.nextCursor) c.out(`showing the newest ${items.length}; --all lists every finding`);
    });
}
