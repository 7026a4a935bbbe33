import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { TRPCError } from "@trpc/server";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageExports, usageRecords } from "../../db/schema";
import { startWorkers, type StartedWorkers } from "../../jobs/worker";
import { csvColumns, focusColumns, restore } from "../exports/columns";
import { newId } from "../ids";
import { formatMicros } from "../money";
import { createTestRuntime, openTestDb, type TestRuntime } from "../testing/harness";
import { createApiKey, createTeam, createUser, setMembership } from "./teams";
import { createContext } from "../trpc/context";
import { createCaller } from "../trpc/root";
import { getUsageExport, INLINE_EXPORT_MAX_ROWS, openUsageExportDownload, requestUsageExport, writeUsageExport } from "./exports";

let dbHandle: Awaited<ReturnType<typeof openTestDb>>;
let rt: TestRuntime;
let dataDir: string;
let teamA: string;
let teamB: string;
const keys: Record<string, string> = {};
const TEAM_NAME = "Acme =Finance+ Zürich ☃";

/** Text that spreadsheets would run, or that trips naive CSV writers. */
const AWKWARD = [
  "=cmd|' /C calc'!A0",
  "+SUM(1,2)",
  "-2+3",
  "@SUM(A1)",
  "\tleading tab",
  "\rleading CR",
  "'already quoted",
  "plain, with comma",
  'with "double quotes"',
  "multi\nline\r\nreason",
  "ünïcödé — 東京 😀",
  "destroy requested",
];

function usageRow(teamId: string, i: number, over: Partial<typeof usageRecords.$inferInsert> = {}): typeof usageRecords.$inferInsert {
  const started = new Date(Date.UTC(2026, 10, 1 + (i % 28), 10, 0, 0, i % 1000));
  const durationMs = 1_000 + i * 7_919;
  return {
    id: newId("use", new Date(started.getTime() + i)),
    sandboxId: `sbx_${teamId.slice(5)}${i.toString(36).padStart(6, "0")}`,
    teamId,
    extensionId: i % 3 === 0 ? "ext.e2b" : "ext.saas-stub",
    profileId: i % 4 === 0 ? "profile.modal-gpu" : "profile.burst-sandbox",
    providerSandboxId: i % 5 === 0 ? null : `prov-${i}`,
    startedAt: started,
    endedAt: new Date(started.getTime() + durationMs),
    durationMs,
    resources: i % 4 === 0 ? { vcpu: 0.5, memoryMiB: 16384, gpu: 1, gpuType: "T4" } : { vcpu: 2, memoryMiB: 512, gpu: 0, gpuType: null },
    rateCardVersion: i % 2 ? "stub-2026-12-01" : "-1e3",
    currency: "USD",
    costMicros: BigInt(i * 1_000_003 + (i % 7)),
    credentialSource: i % 2 ? "platform" : "team",
    endReason: AWKWARD[i % AWKWARD.length]!,
    idempotencyKey: `usage:${teamId}:${i}`,
    ...over,
  };
}

beforeAll(async () => {
  dbHandle = await openTestDb();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-exports-"));
  rt = await createTestRuntime(dbHandle, { processEnv: { SANDBOXER_DATA_DIR: dataDir } });
  const owner = await createUser(rt, { email: "owner@exports.test", password: "password-owner", name: "Owner" });
  teamA = await createTeam(rt, { ownerId: owner, name: TEAM_NAME, creditsMicros: 0n });
  keys.owner = (await createApiKey(rt, { userId: owner, teamId: teamA, name: "owner" })).key;
  for (const role of ["member", "finance", "admin"] as const) {
    const id = await createUser(rt, { email: `${role}@exports.test`, password: `password-${role}`, name: role });
    await setMembership(rt, { teamId: teamA, userId: id, role });
    keys[role] = (await createApiKey(rt, { userId: id, teamId: teamA, name: role })).key;
  }
  const other = await createUser(rt, { email: "other@exports.test", password: "password-other", name: "Other" });
  teamB = await createTeam(rt, { ownerId: other, name: "Team B", creditsMicros: 0n });
  keys.other = (await createApiKey(rt, { userId: other, teamId: teamB, name: "other" })).key;
  await rt.db.insert(usageRecords).values(Array.from({ length: 60 }, (_, i) => usageRow(teamA, i)));
  await rt.db.insert(usageRecords).values(Array.from({ length: 5 }, (_, i) => usageRow(teamB, 100 + i)));
});
afterAll(async () => {
  await rt.cleanup();
  await dbHandle.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function as(who: string) {
  return createCaller(await createContext({ headers: new Headers({ authorization: `Bearer ${keys[who]}` }), rt }));
}
async function identityOf(who: string) {
  return (await createContext({ headers: new Headers({ authorization: `Bearer ${keys[who]}` }), rt })).identity;
}
async function codeOf(p: Promise<unknown>) {
  const err = await p.then(() => null, (e: unknown) => e);
  return err instanceof TRPCError ? err.code : (err as { code?: string } | null)?.code;
}

/** Downloads through the same service the route uses, as bytes. */
async function download(who: string, id: string): Promise<Buffer> {
  const file = await openUsageExportDownload(rt, await identityOf(who), id);
  const chunks: Uint8Array[] = [];
  for await (const c of file.stream() as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  return Buffer.concat(chunks);
}

const parseCsv = (bytes: Buffer) => parse(bytes, { bom: true, columns: true, relax_column_count: false }) as Record<string, string>[];
const teamRows = (teamId: string) => rt.db.select().from(usageRecords).where(eq(usageRecords.teamId, teamId)).orderBy(asc(usageRecords.id));

describe("usage export files", () => {
  it("CSV: parsing the file back gives the DB rows, amounts exact, formulas neutralised in text only", async () => {
    const view = await (await as("finance")).usage.export({ format: "csv" });
    expect(view.status).toBe("ready");
    expect(view.rowsWritten).toBe(60);
    const bytes = await download("finance", view.id);
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf])); // UTF-8 BOM for spreadsheets
    expect(bytes.toString("utf8")).toContain("\r\n");
    const parsed = parseCsv(bytes);
    expect(Object.keys(parsed[0]!)).toEqual(csvColumns.map((c) => c.name));

    const rows = await teamRows(teamA);
    expect(parsed).toHaveLength(rows.length);
    const orNull = (v: string) => (v === "" ? null : v);
    let sum = 0n;
    for (const [i, r] of rows.entries()) {
      const p = parsed[i]!;
      expect(restore(p.record_id!)).toBe(r.id);
      expect(restore(p.sandbox_id!)).toBe(r.sandboxId);
      expect(restore(p.team_name!)).toBe(TEAM_NAME);
      expect(orNull(restore(p.provider_sandbox_id!))).toBe(r.providerSandboxId);
      expect(p.started_at).toBe(r.startedAt.toISOString());
      expect(p.ended_at).toBe(r.endedAt.toISOString());
      expect(Number(p.duration_ms)).toBe(r.durationMs);
      expect(p.cost).toBe(formatMicros(r.costMicros));
      expect(BigInt(p.cost_micros!)).toBe(r.costMicros);
      expect(Number(p.vcpu)).toBe(r.resources.vcpu);
      expect(orNull(restore(p.gpu_type!))).toBe(r.resources.gpuType);
      expect(restore(p.rate_card_version!)).toBe(r.rateCardVersion);
      expect(restore(p.end_reason!)).toBe(r.endReason);
      // Spreadsheet safety: no text cell starts with a formula character; numbers are untouched.
      for (const c of csvColumns) {
        if (c.kind === "text") expect(p[c.name]!, `${c.name} = ${JSON.stringify(p[c.name])}`).not.toMatch(/^[=+\-@\t\r]/);
        else expect(p[c.name]!).not.toMatch(/^'/);
      }
      sum += BigInt(p.cost_micros!);
    }
    expect(parsed.find((p) => p.end_reason === "'=cmd|' /C calc'!A0")).toBeDefined();
    expect(parsed.find((p) => p.end_reason === "''already quoted")).toBeDefined();
    expect(parsed.find((p) => p.rate_card_version === "'-1e3")).toBeDefined();
    expect(view.totalMicros).toBe(sum.toString());
    expect(sum).toBe(rows.reduce((a, r) => a + r.costMicros, 0n));
  });

  it("FOCUS 1.2: every column present with the right type; costs equal the records", async () => {
    const view = await (await as("admin")).usage.export({ format: "focus", extension: "ext.saas-stub" });
    const bytes = await download("admin", view.id);
    expect(bytes.subarray(0, 3)).not.toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const parsed = parseCsv(bytes);
    const header = Object.keys(parsed[0]!);
    expect(header).toEqual(focusColumns.map((c) => c.name));
    for (const name of [
      "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd",
      "ChargeCategory", "BillingCurrency", "PricingQuantity", "PricingUnit", "ConsumedQuantity", "ConsumedUnit", "ServiceName", "ServiceCategory",
      "ProviderName", "PublisherName", "InvoiceIssuerName", "ResourceId", "SubAccountId", "SubAccountName", "BillingAccountId", "Tags", "ChargeClass", "ChargeDescription",
    ]) expect(header).toContain(name);
    expect(header.filter((h) => !/^[A-Z]/.test(h)).every((h) => h.startsWith("x_"))).toBe(true);

    const rows = (await teamRows(teamA)).filter((r) => r.extensionId === "ext.saas-stub");
    expect(parsed).toHaveLength(rows.length);
    const decimal = /^-?\d+(\.\d+)?$/;
    const focusTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
    for (const [i, p] of parsed.entries()) {
      for (const c of focusColumns) {
        const v = p[c.name]!;
        if (v === "") continue; // null
        if (c.kind === "decimal" || c.kind === "integer") expect(v, c.name).toMatch(decimal);
        if (c.kind === "datetime" && !c.name.startsWith("x_")) expect(v, c.name).toMatch(focusTime);
        if (c.kind === "json") expect(typeof JSON.parse(v), c.name).toBe("object");
      }
      const r = rows[i]!;
      for (const k of ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"]) expect(p[k]).toBe(formatMicros(r.costMicros));
      expect(p.ChargeCategory).toBe("Usage");
      expect(p.BillingCurrency).toBe("USD");
      expect(p.ResourceId).toBe(r.sandboxId);
      expect(p.SubAccountId).toBe(r.teamId);
      expect(restore(p.SubAccountName!)).toBe(TEAM_NAME);
      expect(p.ServiceCategory).toBe("Compute");
      expect(p.ProviderName).toBe("SaaS stub (simulated provider)");
      expect(Number(p.PricingQuantity)).toBe(r.durationMs / 1000);
      expect(new Date(p.ChargePeriodStart!).getTime()).toBeLessThanOrEqual(r.startedAt.getTime());
      expect(new Date(p.ChargePeriodEnd!).getTime()).toBeGreaterThanOrEqual(r.endedAt.getTime());
      expect(p.BillingPeriodStart).toBe(`${r.endedAt.toISOString().slice(0, 7)}-01T00:00:00Z`);
      expect(p.x_StartedAt).toBe(r.startedAt.toISOString());
      expect(BigInt(p.x_CostMicros!)).toBe(r.costMicros);
      expect(JSON.parse(p.Tags!)).toEqual({ "sandboxer/profile": r.profileId, "sandboxer/credential-source": r.credentialSource });
      expect(restore(p.x_EndReason!)).toBe(r.endReason);
    }
  });

  it("filters by date range and profile, and only ever shows the caller's team", async () => {
    const finance = await as("finance");
    const view = await finance.usage.export({ format: "csv", from: "2026-11-05", to: "2026-11-10", profile: "burst-sandbox" });
    const parsed = parseCsv(await download("finance", view.id));
    const expected = (await teamRows(teamA)).filter(
      (r) => r.endedAt >= new Date("2026-11-05T00:00:00Z") && r.endedAt < new Date("2026-11-10T00:00:00Z") && r.profileId === "profile.burst-sandbox",
    );
    expect(parsed.map((p) => p.record_id)).toEqual(expected.map((r) => r.id));
    expect(parsed.length).toBeGreaterThan(0);
    expect(view.fileName).toMatch(/^sandboxer-usage-2026-11-05_2026-11-10-exp_[a-z0-9]+\.csv$/);
    expect(await codeOf(finance.usage.export({ format: "csv", from: "2026-11-10", to: "2026-11-05" }))).toBe("BAD_REQUEST");
    // The widest range the API takes is fine, as is none at all (everything): both give every row.
    const all = (await teamRows(teamA)).map((r) => r.id).sort();
    for (const range of [{ from: "1970-01-01", to: "9999-12-30" }, {}]) {
      const wide = await finance.usage.export({ format: "csv", ...range });
      expect(parseCsv(await download("finance", wide.id)).map((p) => p.record_id).sort()).toEqual(all);
    }
  });

  it("lets finance, admin and owner export and download; a member and another team cannot", async () => {
    expect(await codeOf((await as("member")).usage.export({ format: "csv" }))).toBe("FORBIDDEN");
    expect(await codeOf((await as("member")).usage.exports())).toBe("FORBIDDEN");
    expect(await codeOf((await as("member")).finHub.batches({}))).toBe("FORBIDDEN");
    const view = await (await as("owner")).usage.export({ format: "focus" });
    await expect(openUsageExportDownload(rt, await identityOf("member"), view.id)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(openUsageExportDownload(rt, await identityOf("other"), view.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(openUsageExportDownload(rt, null, view.id)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(await codeOf((await as("other")).usage.exportStatus({ id: view.id }))).toBe("NOT_FOUND");
    expect((await (await as("other")).usage.exports()).map((e) => e.id)).not.toContain(view.id);
    expect((await (await as("finance")).usage.exports()).map((e) => e.id)).toContain(view.id);
    // Only an owner or admin may requeue fin-hub batches; finance may look.
    expect(await codeOf((await as("finance")).finHub.retry({ id: "fhb_nope" }))).toBe("FORBIDDEN");
    expect((await (await as("finance")).finHub.status()).enabled).toBe(false);
  });

  it("runs a large export as a job in pages, with progress, and a failure shows why", async () => {
    const extra = INLINE_EXPORT_MAX_ROWS + 150 - 60;
    await rt.db.insert(usageRecords).values(Array.from({ length: extra }, (_, i) => usageRow(teamA, 1_000 + i, { endReason: "bulk" })));
    let workers: StartedWorkers | null = null;
    let bigId = "";
    try {
      const queued = await (await as("finance")).usage.export({ format: "csv" });
      bigId = queued.id;
      expect(queued.status).toBe("queued");
      expect(queued.rowsTotal).toBe(INLINE_EXPORT_MAX_ROWS + 150);
      expect(await rt.queue.queue.getJob(`export-${queued.id}`)).toBeTruthy();
      workers = await startWorkers(rt, { concurrency: 2, sweepEveryMs: 60_000, reconcileEveryMs: 60_000 });
      let done = queued;
      for (let i = 0; i < 200 && done.status !== "ready" && done.status !== "failed"; i++) {
        await new Promise((r) => setTimeout(r, 100));
        done = await getUsageExport(rt, teamA, queued.id);
      }
      expect(done.status).toBe("ready");
      expect(done.progress).toBe(100);
      expect(done.rowsWritten).toBe(INLINE_EXPORT_MAX_ROWS + 150);
      const parsed = parseCsv(await download("finance", done.id));
      expect(parsed).toHaveLength(INLINE_EXPORT_MAX_ROWS + 150);
      expect(new Set(parsed.map((p) => p.record_id)).size).toBe(parsed.length);
    } finally {
      await workers?.close();
    }

    // Small pages give the same file as big ones (keyset pagination misses or repeats nothing).
    const [big] = await rt.db.select().from(usageExports).where(eq(usageExports.id, bigId));
    const again = newId("exp");
    await rt.db.insert(usageExports).values({ id: again, teamId: big!.teamId, format: big!.format, filter: big!.filter, rowsTotal: big!.rowsTotal });
    const seen = new Set<number>();
    const writing = writeUsageExport(rt, again, { pageRows: 7 }).then(() => "done" as const);
    while ((await Promise.race([writing, new Promise((r) => setTimeout(() => r("poll"), 5))])) !== "done") {
      seen.add((await getUsageExport(rt, big!.teamId, again)).progress);
    }
    // Progress moved through the pages while the file was written.
    expect([...seen].some((p) => p > 0 && p < 100)).toBe(true);
    const redone = await getUsageExport(rt, big!.teamId, again);
    expect(redone.sha256).toBe(big!.sha256);

    // A failure is recorded with its reason: here the export directory cannot be created.
    const brokenDir = fs.mkdtempSync(path.join(os.tmpdir(), "sbx-exports-broken-"));
    fs.writeFileSync(path.join(brokenDir, "exports"), "not a directory");
    const broken = await createTestRuntime(dbHandle, { processEnv: { SANDBOXER_DATA_DIR: brokenDir } });
    try {
      const failed = await requestUsageExport(broken, { teamId: teamB, userId: null }, { format: "csv" });
      expect(failed.status).toBe("failed");
      expect(failed.error).toMatch(/could not write the export: .*EEXIST|ENOTDIR/);
      expect(failed.downloadUrl).toBeNull();
    } finally {
      await broken.cleanup();
      fs.rmSync(brokenDir, { recursive: true, force: true });
    }
  });
});
