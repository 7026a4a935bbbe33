import { z } from "zod";

/** Input schemas more than one router uses. */

const DATE_MESSAGE =
  "must be a date such as 2026-12-01 or an ISO time such as 2026-12-01T09:00:00Z";
/** Dates the ledger can hold and a range can be widened by a day around (the DB's dates stop at 9999). */
export const EARLIEST_DATE = new Date("1970-01-01T00:00:00.000Z");
export const LATEST_DATE = new Date("9999-12-30T00:00:00.000Z");

/** A calendar day (2026-12-01, as 00:00 UTC) or an ISO time with its offset; never a rolled-over day. */
export const isoDate = z
  .string({ error: DATE_MESSAGE })
  .max(40)
  .transform((v, ctx) => {
    const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(v);
    const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(
      v,
    );
    const d = new Date(dayOnly ? `${v}T00:00:00.000Z` : v);
    if ((!dayOnly && !isoTime) || Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: "custom", message: DATE_MESSAGE });
      return z.NEVER;
    }
    if (
      v.slice(0, 10) !==
      (dayOnly ? d : new Date(Date.UTC(+v.slice(0, 4), +v.slice(5, 7) - 1, +v.slice(8, 10))))
        .toISOString()
        .slice(0, 10)
    ) {
      ctx.addIssue({ code: "custom", message: `${v.slice(0, 10)} is not a calendar date` });
      return z.NEVER;
    }
    if (d < EARLIEST_DATE || d > LATEST_DATE) {
      ctx.addIssue({
        code: "custom",
        message: `${v} is outside the dates Sandboxer keeps (1970-01-01 to 9999-12-30)`,
      });
      return z.NEVER;
    }
    return d;
  });

/**
 * Characters that make a name or note lie about itself on a screen or a terminal: C0/C1 controls
 * (ESC, BEL, CR, LF, …, CSI) and the bidirectional overrides and isolates.
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export function hasControlCharacters(value: string): boolean {
  return CONTROL_CHARACTERS.test(value);
}

/** A one-line name for people to read: trimmed, 1..max characters, no control characters. */
export const plainName = (max: number, emptyMessage: string) =>
  z
    .string()
    .trim()
    .min(1, emptyMessage)
    .max(max, `at most ${max} characters`)
    .refine(
      (v) => !hasControlCharacters(v),
      "must not contain control characters (line breaks, tabs, escape codes)",
    );

/** A client's key for a write it may repeat (a double click, a retried request): the first one counts. */
export const idempotencyKey = z.string().regex(/^[A-Za-z0-9._:-]{8,100}$/, "must be 8–100 letters, digits or . _ : -");
