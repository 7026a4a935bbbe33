/**
 * Finance exports (docs/exports.md): usage records as CSV or FOCUS 1.2, written to a file under
 * <data dir>/exports by a job (or inline when small), with progress in `usage_exports`.
 *
 * Memory stays bounded whatever the row count: rows are read in keyset pages and streamed
 * through csv-stringify into the file with backpressure; only one page is ever held.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { stringify } from "csv-stringify";
import { and, asc, desc, eq, gt, sql } from "drizzle-orm";
import { organization, usageExports, usageRecords, type UsageExportFilter, type UsageExportFormat } from "../../db/schema";
import type { Identity } from "../auth/identity";
import { canExportUsage } from "../auth/roles";
import { AppError } from "../errors";
import { cellsOf, columnsFor, type ExportRow } from "../exports/columns";
import { newId } from "../ids";
import type { Runtime } from "../runtime";
import { usageConditions } from "./usage";

/** Exports up to this many rows are written in the request; bigger ones go to the worker. */
export const INLINE_EXPORT_MAX_ROWS = 2_000;
export const EXPORT_PAGE_ROWS = 1_000;

export type ExportRequest = { format: UsageExportFormat; from?: Date; to?: Date; extension?: string; profile?: string };
type ExportRowDb = typeof usageExports.$inferSelect;

export const exportsDir = (rt: Pick<Runtime, "env">) => path.resolve(rt.env.SANDBOXER_DATA_DIR, "exports");
const fileOf = (rt: Pick<Runtime, "env">, id: string) => path.join(exportsDir(rt), `${id}.csv`);

function filterOf(f: UsageExportFilter) {
  return { from: f.from ? new Date(f.from) : undefined, to: f.to ? new Date(f.to) : undefined, extension: f.extension, profile: f.profile };
}

export function exportView(e: ExportRowDb) {
  const ext = e.format === "focus" ? "focus-1.2" : "usage";
  const range = `${e.filter.from?.slice(0, 10) ?? "start"}_${e.filter.to?.slice(0, 10) ?? "now"}`;
  return {
    id: e.id,
    format: e.format,
    filter: e.filter,
    status: e.status,
    rowsTotal: e.rowsTotal,
    rowsWritten: e.rowsWritten,
    /** 0..100; a job with nothing to write is done when it is ready. */
    progress: e.status === "ready" ? 100 : e.rowsTotal > 0 ? Math.min(99, Math.floor((e.rowsWritten * 100) / e.rowsTotal)) : 0,
    totalMicros: e.totalMicros.toString(),
    bytes: e.bytes,
    sha256: e.sha256,
    error: e.error,
    fileName: `sandboxer-${ext}-${range}-${e.id}.csv`,
    downloadUrl: e.status === "ready" ? `/api/exports/${e.id}` : null,
    createdAt: e.createdAt.toISOString(),
    startedAt: e.startedAt?.toISOString() ?? null,
    finishedAt: e.finishedAt?.toISOString() ?? null,
  };
}
export type ExportView = ReturnType<typeof exportView>;

/**
 * Starts an export for the caller's team. Small ones are written before this returns (status
 * `ready`); the rest are queued for the worker and report progress as they go.
 */
export async function requestUsageExport(rt: Runtime, actor: { teamId: string; userId: string | null }, req: ExportRequest): Promise<ExportView> {
  if (req.from && req.to && req.from >= req.to) throw new AppError("INVALID_INPUT", "`from` must be before `to`", { field: "from" });
  // No cap on the range: a file is written a page at a time, so any range (or none: everything)
  // takes the same memory, and a big one runs as a job with progress.
  const filter: UsageExportFilter = {
    ...(req.from ? { from: req.from.toISOString() } : {}),
    ...(req.to ? { to: req.to.toISOString() } : {}),
    ...(req.extension ? { extension: req.extension } : {}),
    ...(req.profile ? { profile: req.profile } : {}),
  };
  const [count] = await rt.db
    .select({ n: sql<number>`count(*)::int` })
    .from(usageRecords)
    .where(and(...usageConditions(actor.teamId, filterOf(filter))));
  const now = rt.clock.now();
  const id = newId("exp", now);
  const rowsTotal = Number(count?.n ?? 0);
  await rt.db.insert(usageExports).values({ id, teamId: actor.teamId, requestedBy: actor.userId, format: req.format, filter, status: "queued", rowsTotal, createdAt: now, updatedAt: now });
  if (rowsTotal <= INLINE_EXPORT_MAX_ROWS) await writeUsageExport(rt, id);
  else await rt.queue.enqueueUsageExport(id);
  return getUsageExport(rt, actor.teamId, id);
}

export async function getUsageExport(rt: Runtime, teamId: string, id: string): Promise<ExportView> {
  const [row] = await rt.db.select().from(usageExports).where(and(eq(usageExports.id, id), eq(usageExports.teamId, teamId)));
  if (!row) throw new AppError("NOT_FOUND", `no export ${id} in your team`);
  return exportView(row);
}

export async function listUsageExports(rt: Runtime, teamId: string, limit = 20): Promise<ExportView[]> {
  const rows = await rt.db.select().from(usageExports).where(eq(usageExports.teamId, teamId)).orderBy(desc(usageExports.createdAt), desc(usageExports.id)).limit(Math.min(Math.max(limit, 1), 100));
  return rows.map(exportView);
}

/**
 * Writes the export file (the `export.usage` job, or inline). Re-running a job that died half
 * way starts the file again; a finished or failed export is left alone. A failure is stored as
 * the export's `error` for the console to show.
 */
export async function writeUsageExport(rt: Runtime, id: string, opts: { pageRows?: number } = {}): Promise<void> {
  const [exp] = await rt.db.select().from(usageExports).where(eq(usageExports.id, id));
  if (!exp || exp.status === "ready" || exp.status === "failed") return;
  const started = rt.clock.now();
  await rt.db.update(usageExports).set({ status: "running", startedAt: started, rowsWritten: 0, totalMicros: 0n, updatedAt: started }).where(eq(usageExports.id, id));
  const dir = exportsDir(rt);
  const final = fileOf(rt, id);
  const part = `${final}.${process.pid}.part`;
  try {
    fs.mkdirSync(dir, { recursive: true });
    const result = await writeFile(rt, exp, part, opts.pageRows ?? EXPORT_PAGE_ROWS);
    fs.renameSync(part, final);
    const done = rt.clock.now();
    await rt.db
      .update(usageExports)
      .set({ status: "ready", rowsWritten: result.rows, rowsTotal: Math.max(exp.rowsTotal, result.rows), totalMicros: result.totalMicros, bytes: result.bytes, sha256: result.sha256, finishedAt: done, updatedAt: done })
      .where(eq(usageExports.id, id));
    rt.logger.info({ exportId: id, rows: result.rows, bytes: result.bytes }, "usage export written");
  } catch (err) {
    try {
      fs.rmSync(part, { force: true });
    } catch {
      // Nothing to clean up where nothing could be written.
    }
    const message = `could not write the export: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500);
    const done = rt.clock.now();
    await rt.db.update(usageExports).set({ status: "failed", error: message, finishedAt: done, updatedAt: done }).where(eq(usageExports.id, id));
    rt.logger.error({ exportId: id, err: { message } }, "usage export failed");
  }
}

async function writeFile(rt: Runtime, exp: ExportRowDb, file: string, pageRows: number) {
  const columns = columnsFor(exp.format);
  const [team] = await rt.db.select({ name: organization.name }).from(organization).where(eq(organization.id, exp.teamId));
  const teamName = team?.name ?? exp.teamId;
  // UTF-8; the plain CSV starts with a BOM so spreadsheets read it as UTF-8, FOCUS does not
  // (data tools expect none). CRLF line ends (RFC 4180).
  const csv = stringify({ header: true, columns: columns.map((c) => c.name), bom: exp.format === "csv", record_delimiter: "windows" });
  const out = fs.createWriteStream(file, { flags: "w" });
  const hash = createHash("sha256");
  let bytes = 0;
  csv.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  csv.pipe(out);
  const failed = new Promise<never>((_, reject) => {
    csv.on("error", reject);
    out.on("error", reject);
  });
  failed.catch(() => undefined);

  let rows = 0;
  let totalMicros = 0n;
  let cursor: string | null = null;
  const conditions = usageConditions(exp.teamId, filterOf(exp.filter));
  for (;;) {
    const page: (typeof usageRecords.$inferSelect)[] = await rt.db
      .select()
      .from(usageRecords)
      .where(and(...conditions, ...(cursor ? [gt(usageRecords.id, cursor)] : [])))
      .orderBy(asc(usageRecords.id))
      .limit(pageRows);
    for (const u of page) {
      const row: ExportRow = { ...u, teamName, providerName: rt.catalog.extensions.get(u.extensionId)?.name ?? u.extensionId };
      if (!csv.write(cellsOf(columns, row))) await Promise.race([new Promise((r) => csv.once("drain", r)), failed]);
      totalMicros += u.costMicros;
    }
    rows += page.length;
    if (page.length < pageRows) break;
    cursor = page.at(-1)!.id;
    await rt.db.update(usageExports).set({ rowsWritten: rows, totalMicros, updatedAt: rt.clock.now() }).where(eq(usageExports.id, exp.id));
  }
  csv.end();
  await Promise.race([finished(out), failed]);
  return { rows, totalMicros, bytes, sha256: hash.digest("hex") };
}

/**
 * A ready export's file for the download route: only for a finance, owner or admin of the team
 * that made it (anyone else gets NOT_FOUND or FORBIDDEN, never the file).
 */
export async function openUsageExportDownload(rt: Runtime, identity: Identity | null, id: string) {
  if (!identity) throw new AppError("UNAUTHORIZED", "sign in or send an API key (Authorization: Bearer …)");
  if (!identity.teamId || !identity.role) throw new AppError("FORBIDDEN", "you are not a member of a team");
  if (!canExportUsage(identity.role)) throw new AppError("FORBIDDEN", `the ${identity.role} role cannot download usage exports`);
  const view = await getUsageExport(rt, identity.teamId, id);
  if (view.status !== "ready") throw new AppError("CONFLICT", `export ${id} is ${view.status}${view.error ? `: ${view.error}` : ""}`);
  const file = fileOf(rt, id);
  if (!fs.existsSync(file)) throw new AppError("NOT_FOUND", `the file of export ${id} is no longer on this server; start the export again`);
  return {
    fileName: view.fileName,
    bytes: fs.statSync(file).size,
    sha256: view.sha256,
    stream: () => Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>,
  };
}
