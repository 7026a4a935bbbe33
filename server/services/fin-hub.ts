/**
 * fin-hub export: the outbox → batch → signed POST pipeline (docs/runbooks/fin-hub.md).
 *
 *   settle tx   usage record + debit + outbox row (enqueueForFinHub), one transaction
 *   claim tx    under an advisory lock: take up to batch-size unbatched outbox rows, give them a
 *               new batch (gapless seq), serialize the body ONCE and store it with its hash
 *   send        POST the stored bytes, signed, with Idempotency-Key = batch id; a lease keeps
 *               two senders off the same batch
 *   2xx         batch `sent` and its outbox rows `exported_at` in one transaction
 *   failure     retry later (exponential, ≥ Retry-After); after the configured attempts, or on a
 *               4xx that no retry can fix, the batch is `dead` until a person requeues it
 *
 * A retry or re-send never re-reads the usage records: it sends the stored body under the same
 * batch id, so a receiver that stored a batch and lost the reply sees that id again.
 */
import http from "node:http";
import https from "node:https";
import { and, asc, desc, eq, inArray, isNotNull, isNull, lt, notInArray, or, sql, type SQL } from "drizzle-orm";
import type { DbOrTx } from "../../db/client";
import { billingOutbox, creditLedger, finHubBatches, organization, usageRecords, type FinHubBatchStatus } from "../../db/schema";
import { AppError } from "../errors";
import { finHubBackoffMs, finHubConfig, parseRetryAfter, type FinHubConfig } from "../fin-hub/config";
import { FIN_HUB_SCHEMA, recordJsonOf } from "../fin-hub/payload";
import { FIN_HUB_HEADERS, signatureHeaders } from "../fin-hub/verify";
import { newId } from "../ids";
import type { Runtime } from "../runtime";

/**
 * Puts a usage record in the outbox. Called inside the settle transaction right after the usage
 * record insert; keyed by the record (and unique per sandbox), so a second settle adds nothing.
 */
export async function enqueueForFinHub(tx: DbOrTx, rec: { usageRecordId: string; sandboxId: string; teamId: string; at: Date }): Promise<void> {
  // Serialized here, once: cutting a batch later only concatenates these strings.
  const [row] = await sourceRows(tx).where(eq(usageRecords.id, rec.usageRecordId));
  await tx
    .insert(billingOutbox)
    .values({
      usageRecordId: rec.usageRecordId,
      sandboxId: rec.sandboxId,
      teamId: rec.teamId,
      recordJson: row ? recordJsonOf(row) : null,
      costMicros: row?.costMicros ?? null,
      currency: row?.currency ?? null,
      createdAt: rec.at,
    })
    .onConflictDoNothing();
}

/** Usage records with their team's name: what a fin-hub record is made of. */
function sourceRows(db: DbOrTx) {
  return db
    .select({
      id: usageRecords.id,
      sandboxId: usageRecords.sandboxId,
      teamId: usageRecords.teamId,
      teamName: organization.name,
      extensionId: usageRecords.extensionId,
      profileId: usageRecords.profileId,
      providerSandboxId: usageRecords.providerSandboxId,
      startedAt: usageRecords.startedAt,
      endedAt: usageRecords.endedAt,
      durationMs: usageRecords.durationMs,
      resources: usageRecords.resources,
      rateCardVersion: usageRecords.rateCardVersion,
      currency: usageRecords.currency,
      costMicros: usageRecords.costMicros,
      credentialSource: usageRecords.credentialSource,
      endReason: usageRecords.endReason,
    })
    .from(usageRecords)
    .innerJoin(organization, eq(organization.id, usageRecords.teamId))
    .$dynamic();
}

type Batch = typeof finHubBatches.$inferSelect;
type Leased = Pick<Batch, "id" | "seq" | "body" | "attempts" | "recordCount">;
/** A lease outlives the request timeout by this much, so a live sender never loses its batch. */
const LEASE_GRACE_MS = 30_000;

/**
 * Per database: the highest record id the last full batch took. The next claim's index scan
 * starts after it instead of at the lowest id, because the rows below it were deleted by earlier
 * claims and, until a vacuum removes them, every scan from the start steps over all of them
 * (measured: ~10 ms a claim with 250k dead rows in front; at tens of thousands of records a
 * second, autovacuum comes round far too rarely). Only a hint: a claim that finds nothing after it
 * starts from the beginning, and a short batch clears it, so a record settled late with a lower id
 * goes out at the latest when the export catches up with the outbox.
 */
const claimAfter = new WeakMap<object, string>();

/**
 * Claims up to `batchSize` outbox rows into a new batch, already leased to the caller, in one
 * SQL statement: DELETE the oldest outbox rows (… RETURNING, row locks, SKIP LOCKED, so claims
 * run in parallel and a record is taken by one batch only), take the next number of the
 * `fin_hub_batch_seq` sequence, and INSERT the batch, whose body is the envelope around those
 * rows' stored JSON, joined in the database — the records never travel to this process and back
 * to be stored. `serializeBatchJson` builds the same bytes in JS (a test holds the two equal).
 */
export async function claimBatch(rt: Runtime, cfg: FinHubConfig): Promise<Leased | null> {
  const after = claimAfter.get(rt.db);
  const cut = (await cutBatch(rt, cfg, after ?? null)) ?? (after === undefined ? null : await cutBatch(rt, cfg, null));
  if (!cut) {
    claimAfter.delete(rt.db);
    return null;
  }
  // A short batch is the tail: the next claim starts from the beginning, for late records.
  if (cut.batch.recordCount >= cfg.batchSize && cut.lastId) claimAfter.set(rt.db, cut.lastId);
  else claimAfter.delete(rt.db);
  return cut.batch;
}

async function cutBatch(rt: Runtime, cfg: FinHubConfig, after: string | null): Promise<{ batch: Leased; lastId: string | null } | null> {
  const now = rt.clock.now();
  const id = newId("fhb", now);
  const leasedUntil = new Date(now.getTime() + cfg.timeoutMs + LEASE_GRACE_MS);
  const result = await rt.db.execute(sql`
    with picked as (
      select ctid from billing_outbox where record_json is not null and cost_micros is not null
        ${after === null ? sql`` : sql`and usage_record_id > ${after}`}
      order by usage_record_id limit ${cfg.batchSize} for update skip locked
    ), taken as (
      -- By ctid: the rows are locked, so they stay put, and no second index lookup per row.
      delete from billing_outbox o where o.ctid = any(array(select ctid from picked))
      -- The currency column, not a pattern match over the JSON (that cost ~13 µs a record);
      -- the pattern only for a row migration 0008 could not fill.
      returning o.usage_record_id, o.team_id, o.record_json, o.cost_micros,
        coalesce(o.currency, substring(o.record_json from '"currency":"([^"\\\\]*)"'), 'USD') as currency
    ), by_currency as (
      select currency, sum(cost_micros) as micros from taken group by currency
    ), totals as (
      select '[' || coalesce(string_agg(
        '{"currency":' || to_json(currency)::text || ',"cost":"' || div(micros, 1000000)::text || '.' || lpad(mod(micros, 1000000)::text, 6, '0')
        || '","cost_micros":"' || micros::text || '"}', ',' order by currency collate "C"), '') || ']' as json,
        coalesce(sum(micros), 0) as micros
      from by_currency
    ), by_team as (
      select team_id, count(*)::int as n, sum(cost_micros) as micros from taken group by team_id
    )
    -- The body is built in the FROM below, not in a CTE: a CTE that calls nextval is materialized,
    -- which copies the whole body once more. Each "||" next to the records copies them once.
    insert into fin_hub_batches (id, seq, status, record_count, total_micros, body, body_sha256, record_ids, team_totals,
      attempts, next_attempt_at, leased_until, created_at, updated_at)
    select ${id}, s.seq, 'pending', agg.n, (select micros from totals), b.text,
      encode(sha256(convert_to(b.text, 'UTF8')), 'hex'), agg.ids,
      (select jsonb_object_agg(team_id, jsonb_build_object('records', n, 'micros', micros::text)) from by_team),
      1, ${now}, ${leasedUntil}, ${now}, ${now}
    from (
      select count(*)::int as n,
        string_agg(record_json, ',' order by usage_record_id collate "C") || ']}' as records,
        array_agg(usage_record_id order by usage_record_id collate "C") as ids
      from taken
      having count(*) > 0
    ) agg
    -- nextval only when there is a batch to number: the "where" ties it to the aggregate's row
    -- ("offset 0" keeps each subquery evaluated once, not inlined into every use).
    cross join lateral (select nextval('fin_hub_batch_seq') as seq where agg.n > 0 offset 0) s
    cross join lateral (
      select '{"schema":' || to_json(${FIN_HUB_SCHEMA}::text)::text || ',"batch_id":' || to_json(${id}::text)::text
        || ',"sequence":' || s.seq::text || ',"created_at":' || to_json(${now.toISOString()}::text)::text
        || ',"record_count":' || agg.n::text || ',"totals":' || (select json from totals) || ',"records":[' || agg.records as text
      offset 0
    ) b
    -- The highest id in the batch (by id; "C" order, close enough for a hint) for the next claim.
    returning id, seq, body, record_count, record_ids[array_upper(record_ids, 1)] as last_id`);
  const row = (result as unknown as { rows: { id: string; seq: string | number; body: string; record_count: number; last_id: string | null }[] }).rows[0];
  if (!row) return null;
  return { batch: { id: row.id, seq: Number(row.seq), body: row.body, attempts: 1, recordCount: Number(row.record_count) }, lastId: row.last_id };
}

/**
 * Outbox rows from before records were serialized at settle (migration 0003's backfill) get
 * their JSON here, from the usage record, before they can be claimed.
 */
export async function serializeBackfilledOutboxRows(rt: Runtime, limit = 1_000): Promise<number> {
  const rows = await rt.db
    .select({ id: billingOutbox.usageRecordId })
    .from(billingOutbox)
    .where(or(isNull(billingOutbox.recordJson), isNull(billingOutbox.costMicros)))
    .limit(limit);
  if (rows.length === 0) return 0;
  const sources = await sourceRows(rt.db).where(inArray(usageRecords.id, rows.map((r) => r.id)));
  for (const r of sources) {
    await rt.db.update(billingOutbox).set({ recordJson: recordJsonOf(r), costMicros: r.costMicros, currency: r.currency }).where(eq(billingOutbox.usageRecordId, r.id));
  }
  return rows.length;
}

/** Leases the oldest pending batch that is due (first sends of crashed senders included). */
export async function leaseDueBatch(rt: Runtime, cfg: FinHubConfig): Promise<Leased | null> {
  const now = rt.clock.now();
  const leaseUntil = new Date(now.getTime() + cfg.timeoutMs + LEASE_GRACE_MS);
  const due = rt.db
    .select({ id: finHubBatches.id })
    .from(finHubBatches)
    .where(
      and(
        eq(finHubBatches.status, "pending"),
        sql`${finHubBatches.nextAttemptAt} <= ${now}`,
        or(isNull(finHubBatches.leasedUntil), lt(finHubBatches.leasedUntil, now)),
      ),
    )
    .orderBy(asc(finHubBatches.seq))
    .limit(1)
    .for("update", { skipLocked: true });
  const [row] = await rt.db
    .update(finHubBatches)
    .set({ leasedUntil: leaseUntil, attempts: sql`${finHubBatches.attempts} + 1`, updatedAt: now })
    .where(inArray(finHubBatches.id, due))
    .returning({ id: finHubBatches.id, seq: finHubBatches.seq, body: finHubBatches.body, attempts: finHubBatches.attempts, recordCount: finHubBatches.recordCount });
  return row ?? null;
}

export type SendOutcome =
  | { ok: true; status: number }
  | { ok: false; status: number | null; error: string; retryAfterMs?: number; permanent: boolean };

/**
 * Keep-alive connections to fin-hub (node:http, not fetch: no stream copies of a large body).
 * Idle sockets are closed after 4 s, before a typical server's keep-alive runs out.
 */
const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 }),
};

class SendTimeout extends Error {}

function post(url: URL, headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<{ status: number; retryAfter: string | null; text: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.request(url, { method: "POST", headers: { ...headers, "content-length": String(body.length) }, agent: agents[url.protocol as "http:" | "https:"] }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < 16_384) chunks.push(c);
        size += c.length;
      });
      res.on("end", () => {
        const retryAfter = res.headers["retry-after"];
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? (retryAfter[0] ?? null) : (retryAfter ?? null), text: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", reject);
    });
    const timer = setTimeout(() => req.destroy(new SendTimeout()), timeoutMs);
    req.on("error", reject);
    req.on("close", () => clearTimeout(timer));
    req.end(body);
  });
}

/** One signed POST of the stored bytes. Never throws: every failure is an outcome. */
export async function sendBatch(rt: Runtime, cfg: FinHubConfig, batch: Leased): Promise<SendOutcome> {
  const body = Buffer.from(batch.body, "utf8");
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    [FIN_HUB_HEADERS.idempotencyKey]: batch.id,
    [FIN_HUB_HEADERS.batchId]: batch.id,
    [FIN_HUB_HEADERS.batchSeq]: String(batch.seq),
    [FIN_HUB_HEADERS.attempt]: String(batch.attempts),
    "user-agent": "sandboxer-fin-hub/1",
    // The signature timestamp is of this send; the body bytes are the same on every send.
    ...signatureHeaders(cfg.secrets, body, new Date()),
  };
  let res: Awaited<ReturnType<typeof post>>;
  try {
    res = await post(new URL(cfg.url), headers, body, cfg.timeoutMs);
  } catch (err) {
    return { ok: false, status: null, error: networkError(err, cfg.timeoutMs), permanent: false };
  }
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  const detail = res.text.replace(/\s+/g, " ").trim().slice(0, 300);
  const error = `HTTP ${res.status}${detail ? `: ${detail}` : ""}`;
  if (res.status >= 300 && res.status < 400) {
    return { ok: false, status: res.status, error: `${error} (a redirect: set SANDBOXER_FIN_HUB_URL to the final URL)`, permanent: true };
  }
  const retryable = res.status >= 500 || [408, 425, 429].includes(res.status);
  return { ok: false, status: res.status, error, retryAfterMs: parseRetryAfter(res.retryAfter), permanent: !retryable };
}

function networkError(err: unknown, timeoutMs: number): string {
  if (err instanceof SendTimeout) return `no answer within ${timeoutMs} ms`;
  const e = err as NodeJS.ErrnoException;
  return `${e?.message ?? String(err)}${e?.code && !e.message?.includes(e.code) ? ` (${e.code})` : ""}`.slice(0, 300);
}

/** Records the outcome of a send: sent (and its records exported), retry later, or dead. */
export async function recordOutcome(rt: Runtime, cfg: FinHubConfig, batch: Leased, outcome: SendOutcome): Promise<FinHubBatchStatus> {
  const now = rt.clock.now();
  if (outcome.ok) {
    // The batch's records are exported from this moment: `sent_at` keeps the first 2xx.
    await rt.db
      .update(finHubBatches)
      .set({ status: "sent", sentAt: sql`coalesce(${finHubBatches.sentAt}, ${now})`, leasedUntil: null, lastStatus: outcome.status, lastError: null, updatedAt: now })
      .where(eq(finHubBatches.id, batch.id));
    return "sent";
  }
  const dead = outcome.permanent || batch.attempts >= cfg.attempts;
  const next = new Date(now.getTime() + finHubBackoffMs(cfg, batch.attempts, outcome.retryAfterMs));
  const error = `${outcome.error} (attempt ${batch.attempts} of ${cfg.attempts})`;
  await rt.db
    .update(finHubBatches)
    .set(
      dead
        ? { status: "dead", deadAt: now, leasedUntil: null, lastStatus: outcome.status, lastError: error, updatedAt: now }
        : { nextAttemptAt: next, leasedUntil: null, lastStatus: outcome.status, lastError: error, updatedAt: now },
    )
    .where(and(eq(finHubBatches.id, batch.id), eq(finHubBatches.status, "pending")));
  const log = rt.logger.child({ batchId: batch.id, seq: batch.seq, attempt: batch.attempts });
  if (dead) log.error({ error }, "fin-hub batch dead-lettered; requeue it from the console once fin-hub is fixed");
  else log.warn({ error, retryAt: next.toISOString() }, "fin-hub batch not delivered; will retry");
  return dead ? "dead" : "pending";
}

/**
 * Statuses by which fin-hub refuses one batch's content (a malformed record, a conflict on its
 * id): later batches may still go through. Any other reason a batch died — a wrong secret (401),
 * a wrong URL (404, a redirect), a body size fin-hub refuses (413), attempts run out in an
 * outage — would kill every later batch the same way.
 */
const BATCH_SPECIFIC_STATUSES = [400, 409, 422];

/**
 * Why no new batch may be cut now, or null: a batch is failing (until it gets through or dies),
 * or one died for a reason every later batch would die of too (until a person requeues it). Records
 * wait in the outbox meanwhile, instead of being cut into batch after dead batch.
 */
async function deliveryBlockedBy(rt: Runtime): Promise<{ id: string; status: FinHubBatchStatus; lastStatus: number | null } | null> {
  const [row] = await rt.db
    .select({ id: finHubBatches.id, status: finHubBatches.status, lastStatus: finHubBatches.lastStatus })
    .from(finHubBatches)
    .where(
      or(
        and(eq(finHubBatches.status, "pending"), isNotNull(finHubBatches.lastError)),
        and(
          eq(finHubBatches.status, "dead"),
          or(isNull(finHubBatches.lastStatus), notInArray(finHubBatches.lastStatus, BATCH_SPECIFIC_STATUSES)),
        ),
      ),
    )
    .orderBy(asc(finHubBatches.seq))
    .limit(1);
  return row ?? null;
}

export type ExportRunResult = { batchesSent: number; recordsSent: number; failures: number; deadLettered: number };

/**
 * The `billing.export` job: delivers due batches and cuts new ones until nothing is left or the
 * time budget is spent, with `concurrency` batches in flight. Safe to run in several workers at
 * once (claims are serialized, sends are leased).
 */
export async function runFinHubExport(rt: Runtime, opts: { cfg?: FinHubConfig; budgetMs?: number } = {}): Promise<ExportRunResult> {
  const result: ExportRunResult = { batchesSent: 0, recordsSent: 0, failures: 0, deadLettered: 0 };
  const cfg = opts.cfg ?? finHubConfig(rt.env);
  if (!cfg) return result;
  const deadline = Date.now() + (opts.budgetMs ?? Math.max(30_000, cfg.intervalMs * 3));
  while ((await serializeBackfilledOutboxRows(rt)) > 0 && Date.now() < deadline) {
    // Old rows first get their JSON; new ones have it from the settle transaction.
  }
  let failedThisRun = false;
  let paused = false;
  const lane = async () => {
    while (Date.now() < deadline) {
      let batch = await leaseDueBatch(rt, cfg);
      if (!batch) {
        if (failedThisRun) return;
        const blocker = await deliveryBlockedBy(rt);
        if (blocker) {
          if (blocker.status === "dead" && !paused) {
            paused = true;
            rt.logger.warn(
              { batchId: blocker.id, lastStatus: blocker.lastStatus },
              "fin-hub export paused: a dead batch failed in a way later batches would too; fix fin-hub or the settings, then requeue it (docs/runbooks/fin-hub.md)",
            );
          }
          return;
        }
        batch = await claimBatch(rt, cfg);
      }
      if (!batch) return;
      const outcome = await sendBatch(rt, cfg, batch);
      const status = await recordOutcome(rt, cfg, batch, outcome);
      if (status === "sent") {
        result.batchesSent++;
        result.recordsSent += batch.recordCount;
      } else {
        result.failures++;
        failedThisRun = true;
        if (status === "dead") result.deadLettered++;
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, lane));
  if (result.batchesSent || result.failures) rt.logger.info(result, "fin-hub export pass");
  return result;
}

// ---------------------------------------------------------------------------------------------
// The console and the runbook: batches as a team sees them, requeueing, reconciliation.

export type BatchView = {
  id: string;
  seq: number;
  status: FinHubBatchStatus;
  /** This team's records in the batch and their cost (other teams' are not shown). */
  teamRecords: number;
  teamCostMicros: string;
  attempts: number;
  lastError: string | null;
  lastStatus: number | null;
  nextAttemptAt: string | null;
  createdAt: string;
  sentAt: string | null;
  deadAt: string | null;
  requeuedAt: string | null;
  requeueCount: number;
};

export async function listFinHubBatches(rt: Runtime, teamId: string, opts: { status?: FinHubBatchStatus; cursor?: number; limit?: number } = {}) {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 200);
  const conditions: SQL[] = [hasTeam(teamId)];
  if (opts.status) conditions.push(eq(finHubBatches.status, opts.status));
  if (opts.cursor !== undefined) conditions.push(lt(finHubBatches.seq, opts.cursor));
  const rows = await rt.db
    .select({
      id: finHubBatches.id,
      seq: finHubBatches.seq,
      status: finHubBatches.status,
      attempts: finHubBatches.attempts,
      lastError: finHubBatches.lastError,
      lastStatus: finHubBatches.lastStatus,
      nextAttemptAt: finHubBatches.nextAttemptAt,
      createdAt: finHubBatches.createdAt,
      sentAt: finHubBatches.sentAt,
      deadAt: finHubBatches.deadAt,
      requeuedAt: finHubBatches.requeuedAt,
      requeueCount: finHubBatches.requeueCount,
      teamRecords: sql<number>`(${finHubBatches.teamTotals} -> ${teamId} ->> 'records')::int`,
      teamCostMicros: sql<string>`${finHubBatches.teamTotals} -> ${teamId} ->> 'micros'`,
    })
    .from(finHubBatches)
    .where(and(...conditions))
    .orderBy(desc(finHubBatches.seq))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  const items: BatchView[] = page.map((b) => ({
    id: b.id,
    seq: Number(b.seq),
    status: b.status,
    teamRecords: Number(b.teamRecords),
    teamCostMicros: String(b.teamCostMicros),
    attempts: b.attempts,
    lastError: b.lastError,
    lastStatus: b.lastStatus,
    nextAttemptAt: b.status === "pending" ? iso(b.nextAttemptAt) : null,
    createdAt: b.createdAt.toISOString(),
    sentAt: iso(b.sentAt),
    deadAt: iso(b.deadAt),
    requeuedAt: iso(b.requeuedAt),
    requeueCount: b.requeueCount,
  }));
  return { items, nextCursor: rows.length > limit ? (page.at(-1)?.seq ?? null) : null };
}

/** The batch holds some of this team's records. */
const hasTeam = (teamId: string) => sql`${finHubBatches.teamTotals} ? ${teamId}`;

/**
 * Puts a batch back in the queue: a dead one (`retry`) or a delivered one (`resend`, for when
 * fin-hub lost it). Same id, same seq, same stored bytes; attempts start again. Only a batch
 * holding some of the caller's team's records can be touched by that team.
 */
export async function requeueFinHubBatch(rt: Runtime, actor: { teamId: string; userId: string | null }, batchId: string, mode: "retry" | "resend") {
  const from: FinHubBatchStatus = mode === "retry" ? "dead" : "sent";
  const now = rt.clock.now();
  return rt.db.transaction(async (tx) => {
    const [mine] = await tx.select({ id: finHubBatches.id }).from(finHubBatches).where(and(eq(finHubBatches.id, batchId), hasTeam(actor.teamId)));
    if (!mine) throw new AppError("NOT_FOUND", `no fin-hub batch ${batchId} with your team's records`);
    const [row] = await tx
      .update(finHubBatches)
      .set({ status: "pending", attempts: 0, nextAttemptAt: now, leasedUntil: null, deadAt: null, requeuedAt: now, requeuedBy: actor.userId, requeueCount: sql`${finHubBatches.requeueCount} + 1`, updatedAt: now })
      .where(and(eq(finHubBatches.id, batchId), eq(finHubBatches.status, from)))
      .returning({ id: finHubBatches.id, seq: finHubBatches.seq });
    if (!row) {
      const [cur] = await tx.select({ status: finHubBatches.status }).from(finHubBatches).where(eq(finHubBatches.id, batchId));
      throw new AppError("CONFLICT", `batch ${batchId} is ${cur?.status ?? "gone"}; only a ${from} batch can be ${mode === "retry" ? "retried" : "re-sent"}`);
    }
    rt.logger.info({ batchId, seq: row.seq, mode, by: actor.userId }, "fin-hub batch requeued");
    return { id: row.id, seq: Number(row.seq), status: "pending" as const };
  });
}

/**
 * Money in each stage for a team (or the whole installation when teamId is null): ledger debits,
 * usage records, exported (fin-hub answered 2xx at least once), in flight, dead, not yet
 * batched. When the export is caught up, exported = usage = debits to the micro-dollar.
 */
export async function finHubReconciliation(rt: Runtime, teamId: string | null) {
  const [debits] = await rt.db
    .select({ micros: sql<string>`coalesce(sum(${creditLedger.amountMicros}), 0)::text` })
    .from(creditLedger)
    .where(and(eq(creditLedger.kind, "debit"), ...(teamId ? [eq(creditLedger.teamId, teamId)] : [])));
  const [usage] = await rt.db
    .select({ records: sql<number>`count(*)::int`, micros: sql<string>`coalesce(sum(${usageRecords.costMicros}), 0)::text` })
    .from(usageRecords)
    .where(teamId ? eq(usageRecords.teamId, teamId) : undefined);
  const [unbatched] = await rt.db
    .select({ records: sql<number>`count(*)::int`, micros: sql<string>`coalesce(sum(${usageRecords.costMicros}), 0)::text` })
    .from(billingOutbox)
    .innerJoin(usageRecords, eq(usageRecords.id, billingOutbox.usageRecordId))
    .where(teamId ? eq(billingOutbox.teamId, teamId) : undefined);
  const records = teamId ? sql`(${finHubBatches.teamTotals} -> ${teamId} ->> 'records')::bigint` : sql`${finHubBatches.recordCount}`;
  const micros = teamId ? sql`(${finHubBatches.teamTotals} -> ${teamId} ->> 'micros')::numeric` : sql`${finHubBatches.totalMicros}`;
  const stages = await rt.db
    .select({
      stage: sql<string>`case when ${finHubBatches.sentAt} is not null then 'exported' else ${finHubBatches.status} end`,
      records: sql<string>`coalesce(sum(${records}), 0)::text`,
      micros: sql<string>`coalesce(sum(${micros}), 0)::text`,
    })
    .from(finHubBatches)
    .where(teamId ? hasTeam(teamId) : undefined)
    .groupBy(sql`1`);
  const stage = (name: string) => {
    const s = stages.find((x) => x.stage === name);
    return { records: Number(s?.records ?? 0), micros: String(s?.micros ?? "0") };
  };
  return {
    enabled: finHubConfig(rt.env) !== null,
    ledgerDebitMicros: String(debits?.micros ?? "0"),
    usage: { records: Number(usage?.records ?? 0), micros: String(usage?.micros ?? "0") },
    exported: stage("exported"),
    inFlight: stage("pending"),
    dead: stage("dead"),
    unbatched: { records: Number(unbatched?.records ?? 0), micros: String(unbatched?.micros ?? "0") },
  };
}
