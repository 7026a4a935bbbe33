import { getTableColumns, sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { DbOrTx } from "../../db/client";
import { sandboxEvents } from "../../db/schema";
import { newId } from "../ids";

/**
 * Helpers for the few hot-path statements written as one SQL statement (data-modifying CTEs)
 * instead of a transaction of several: each saved statement is a network round trip, and on the
 * lifecycle's hot path round trips are most of the CPU and all of the lock time.
 *
 * Parameters are passed as text with an explicit cast, so Postgres and PGlite read them alike;
 * `int8` results are returned as text (PGlite would otherwise hand back a lossy JS number).
 */
export const ts = (d: Date): SQL => sql`${d.toISOString()}::timestamptz`;
export const int8 = (n: bigint): SQL => sql`${n.toString()}::int8`;
export const jsonb = (v: unknown): SQL => (v === null || v === undefined ? sql`null::jsonb` : sql`${JSON.stringify(v)}::jsonb`);
export const text = (s: string | null | undefined): SQL => (s === null || s === undefined ? sql`null::text` : sql`${s}::text`);

/** `col, col, …` of a table for a RETURNING or SELECT list, bigint columns as text. */
export function columnsOf(table: PgTable): SQL {
  const parts = Object.values(getTableColumns(table)).map((c) =>
    c.columnType === "PgBigInt64" || c.columnType === "PgBigSerial64" ? sql.raw(`"${c.name}"::text as "${c.name}"`) : sql.raw(`"${c.name}"`),
  );
  return sql.join(parts, sql`, `);
}

/** A raw row (as returned for `columnsOf`) mapped to the table's typed row, as drizzle's select would. */
export function rowOf<T extends PgTable>(table: T, raw: Record<string, unknown>): T["$inferSelect"] {
  const out: Record<string, unknown> = {};
  for (const [key, col] of Object.entries(getTableColumns(table))) {
    const v = raw[col.name];
    out[key] = v === null || v === undefined ? null : col.mapFromDriverValue(v);
  }
  return out as T["$inferSelect"];
}

/** Runs one statement and returns its rows (node-postgres and PGlite both answer `{ rows }`). */
export async function rowsOf(db: DbOrTx, query: SQL): Promise<Record<string, unknown>[]> {
  const result = (await db.execute(query)) as unknown as { rows: Record<string, unknown>[] };
  return result.rows;
}

export type EventSpec = {
  sandboxId: string;
  /** A value, or an SQL expression over the `from` relation of eventsFrom. */
  teamId: string | SQL;
  kind: string;
  reason: string | SQL;
  fromState?: string | null;
  toState?: string | null;
  extensionId?: string | SQL | null;
  data?: Record<string, unknown>;
  at: Date;
};

const EVENT_COLUMNS = sql.raw(`(id, sandbox_id, team_id, kind, from_state, to_state, extension_id, reason, data, at)`);
const value = (v: string | SQL | null | undefined) => (typeof v === "string" || v === null || v === undefined ? text(v) : v);

function eventTuple(e: EventSpec): SQL {
  return sql.join(
    [text(newId("evt", e.at)), text(e.sandboxId), value(e.teamId), text(e.kind), text(e.fromState), text(e.toState), value(e.extensionId), value(e.reason), jsonb(e.data), ts(e.at)],
    sql`, `,
  );
}

/** `insert into sandbox_events … values (…), (…)`: event rows written in the order given. */
export function eventsValues(events: EventSpec[]): SQL {
  return sql`insert into ${sandboxEvents} ${EVENT_COLUMNS} values ${sql.join(
    events.map((e) => sql`(${eventTuple(e)})`),
    sql`, `,
  )}`;
}

/**
 * `insert into sandbox_events … select … from <from>`: the event is written when `from` (a CTE
 * of one row at most, e.g. an `update … where id = …`) has a row, and not when it is empty.
 */
export function eventsFrom(from: SQL, e: EventSpec): SQL {
  return sql`insert into ${sandboxEvents} ${EVENT_COLUMNS} select ${eventTuple(e)} from ${from}`;
}
