/** Human output: tables and detail views built from the API's JSON shapes. */
import Table from "cli-table3";
import type { RouterOutputs } from "./client";
import {
  formatMoney,
  formatResources,
  humanMs,
  humanSeconds,
  printable,
  relativeTime,
  shortIso,
  timeWithRelative,
  ttlCountdown,
  withoutRepeats,
} from "./format";

export type SandboxView = RouterOutputs["sandboxes"]["create"];
export type SandboxDetail = RouterOutputs["sandboxes"]["get"];
export type EventView = SandboxDetail["events"][number];
export type PreviewView = RouterOutputs["sandboxes"]["preview"];
export type UsagePage = RouterOutputs["usage"]["list"];
export type ProfileView = RouterOutputs["profiles"]["list"][number];

const TERMINAL = new Set(["destroyed", "failed", "lost"]);

/**
 * A table without colours (output is often piped), wrapped long cells. Every cell goes through
 * `printable`: cells hold values from the server, and escaping them here (before the widths are
 * measured) keeps terminal controls in them from acting and the columns aligned.
 */
export function table(head: string[], rows: (string | number)[][], opts: { colWidths?: (number | null)[] } = {}): string {
  const t = new Table({
    head,
    style: { head: [], border: [], compact: false },
    wordWrap: true,
    ...(opts.colWidths ? { colWidths: opts.colWidths } : {}),
  });
  for (const r of rows) t.push(r.map((cell) => printable(String(cell))));
  return t.toString();
}

/** Two columns, label and value, no header. Values go through `printable`, as table cells do. */
export function keyValues(input: [string, string][]): string {
  const rows = input.map(([k, v]): [string, string] => [k, printable(v)]);
  const labelWidth = Math.max(...rows.map(([k]) => k.length)) + 2;
  const valueWidth = Math.max(...rows.map(([, v]) => v.length)) + 2;
  const room = Math.max(40, (process.stdout.columns || 120) - labelWidth - 3);
  const t = new Table({ style: { head: [], border: [] }, wordWrap: true, colWidths: [labelWidth, Math.min(valueWidth, room)] });
  for (const [k, v] of rows) t.push([k, v]);
  return t.toString();
}

/** The cost column: the final cost once settled, else what running has cost so far. */
export function costOf(s: Pick<SandboxView, "costMicros" | "costSoFarMicros" | "state">): string {
  if (s.costMicros !== null) return formatMoney(s.costMicros);
  if (s.costSoFarMicros !== null) return `${formatMoney(s.costSoFarMicros)} so far`;
  return "—";
}

function runtimeOf(s: SandboxView, now: Date): string | null {
  if (!s.startedAt) return null;
  const end = s.endedAt ? new Date(s.endedAt) : now;
  return humanMs(end.getTime() - new Date(s.startedAt).getTime());
}

/** The state row: the state, and for a ready sandbox when it expires. A failure's reason has its own row. */
export function stateLine(s: SandboxView, now: Date = new Date()): string {
  return s.state === "ready" ? `ready (expires ${ttlCountdown(s, now)})` : stateCell(s);
}

/** The state, marked when the worker has stopped on it for a person (its reason is in `get`). */
function stateCell(s: SandboxView): string {
  return s.attentionReason ? `${s.state} (needs attention)` : s.state;
}

export function sandboxListTable(items: SandboxView[], now: Date = new Date()): string {
  return table(
    ["ID", "STATE", "PROFILE", "PROVIDER", "TTL", "EXPIRES", "COST", "CREATED"],
    items.map((s) => [
      s.id,
      stateCell(s),
      s.profileId.replace(/^profile\./, ""),
      s.extensionId ?? "—",
      humanSeconds(s.ttlSeconds),
      ttlCountdown(s, now),
      costOf(s),
      relativeTime(s.createdAt, now),
    ]),
  );
}

export function sandboxDetails(s: SandboxView, now: Date = new Date()): string {
  const rows: [string, string][] = [
    ["id", s.id],
    ["state", stateLine(s, now)],
    ["profile", s.profileId],
    ["provider", s.extensionId ? `${s.extensionId}${s.providerSandboxId ? ` (${s.providerSandboxId})` : ""}` : "not chosen yet"],
    ["template", s.template],
    ["resources", formatResources(s.resources)],
    ["TTL", s.ttlSeconds >= 60 ? `${humanSeconds(s.ttlSeconds)} (${s.ttlSeconds}s)` : `${s.ttlSeconds}s`],
    ["created", timeWithRelative(s.createdAt, now)],
  ];
  if (s.readyAt) rows.push(["ready", timeWithRelative(s.readyAt, now)]);
  if (s.expiresAt) rows.push(["expires", TERMINAL.has(s.state) ? shortIso(s.expiresAt) : timeWithRelative(s.expiresAt, now)]);
  if (s.destroyRequestedAt) rows.push(["destroy requested", timeWithRelative(s.destroyRequestedAt, now)]);
  if (s.endedAt) rows.push(["ended", timeWithRelative(s.endedAt, now)]);
  const ran = runtimeOf(s, now);
  if (ran) rows.push([s.endedAt ? "ran for" : "running for", ran]);
  rows.push(["estimate", formatMoney(s.estimateMicros)]);
  if (!TERMINAL.has(s.state)) rows.push(["held", formatMoney(s.holdMicros)]);
  if (s.costMicros !== null) rows.push(["final cost", formatMoney(s.costMicros)]);
  else rows.push(["cost so far", s.costSoFarMicros !== null ? formatMoney(s.costSoFarMicros) : "— (not started)"]);
  if (s.rateCardVersion) rows.push(["rate card", s.rateCardVersion]);
  if (s.failureReason) rows.push(["failure", withoutRepeats(s.failureReason)]);
  if (s.attentionReason) rows.push(["needs attention", withoutRepeats(s.attentionReason)]);
  return keyValues(rows);
}

export function routingSection(s: Pick<SandboxView, "routing" | "state" | "id">): string {
  if (!s.routing) {
    return TERMINAL.has(s.state)
      ? "Routing: none recorded (the sandbox ended before a provider was tried)."
      : "Routing: not decided yet — the worker decides when it provisions (a `waiting` event below says why a request waits; `sandboxer profiles` shows the current route plan).";
  }
  const r = s.routing;
  return [
    `Routing (${r.strategy}, decided ${shortIso(r.decidedAt)}):`,
    table(
      ["ROUTE ENTRY", "OUTCOME", "REASON", "ESTIMATE"],
      r.candidates.map((c) => [c.extensionId, c.outcome, withoutRepeats(c.reason), formatMoney(c.estimateMicros)]),
    ),
  ].join("\n");
}

/** The routing plan for a request before the worker has acted: eligibility from `sandboxes.preview`. */
export function planSection(p: PreviewView, title: string): string {
  return [
    `${title} (${p.strategy}, TTL ${humanSeconds(p.ttlSeconds)}, hold ${formatMoney(p.holdMicros)}):`,
    table(
      ["ROUTE ENTRY", "PLAN", "REASON", "ESTIMATE"],
      p.candidates.map((c) => [
        c.extensionId,
        c.extensionId === p.chosenExtensionId ? "would choose" : c.eligible ? "fallback" : "skipped",
        withoutRepeats(c.reason),
        formatMoney(c.estimateMicros),
      ]),
    ),
  ].join("\n");
}

export function describeEvent(e: EventView): string {
  const what = e.kind === "state" && e.toState ? `${e.fromState ? `${e.fromState} → ` : ""}${e.toState}` : e.kind.replace(/_/g, " ");
  return what;
}

export function eventsSection(events: EventView[], createdAt: string): string {
  if (events.length === 0) return "Events: none.";
  const t0 = new Date(createdAt).getTime();
  return [
    "Events:",
    table(
      ["AT", "T+", "EVENT", "PROVIDER", "DETAIL"],
      events.map((e) => [shortIso(e.at), `+${humanMs(new Date(e.at).getTime() - t0)}`, describeEvent(e), e.extensionId ?? "", withoutRepeats(e.reason ?? "")]),
    ),
  ].join("\n");
}

export function usageTable(page: UsagePage): string {
  const rows: string[][] = page.items.map((u) => [
    shortIso(u.endedAt),
    u.sandboxId,
    u.profileId.replace(/^profile\./, ""),
    u.extensionId,
    humanMs(u.durationMs),
    formatMoney(u.costMicros),
    u.endReason ?? "",
  ]);
  rows.push(["TOTAL", `${page.totals.count} record${page.totals.count === 1 ? "" : "s"}`, "", "", humanMs(Number(page.totals.durationMs)), formatMoney(page.totals.costMicros), ""]);
  return table(["ENDED", "SANDBOX", "PROFILE", "PROVIDER", "DURATION", "COST", "END REASON"], rows);
}

export function profileSection(p: ProfileView): string {
  const head = `${p.id} — ${p.name}`;
  const lines = [head];
  if (p.description) lines.push(`  ${p.description}`);
  lines.push(
    `  ${formatResources({ vcpu: p.resources.vcpu, memoryMiB: p.resources.memory_mib, gpu: p.resources.gpu, gpuType: p.resources.gpu_type ?? null })} · template ${p.template} · TTL default ${humanSeconds(p.ttl.defaultSeconds)}, max ${humanSeconds(p.ttl.maxSeconds)} · ${p.pricingModel} · ${p.strategy}`,
  );
  lines.push(`  route: ${p.route.join(" → ")}`);
  lines.push(planSection(p.estimate, `  estimate for the default TTL`));
  return lines.join("\n");
}
