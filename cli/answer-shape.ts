import { TRPCClientError, type TRPCLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import { z } from "zod";
import type { AppRouter } from "../server/trpc/root";

/**
 * What the CLI reads of each answer, checked before a command uses it: a server at the wrong
 * --url that happens to answer tRPC-shaped JSON (`{"result":{"data":null}}`) is then reported as
 * not the Sandboxer API, instead of a TypeError — or, worse, a balance table of dashes and exit 0.
 * Loose objects: a newer server may add fields.
 */
const micros = z.string().regex(/^-?\d+$/);
const sandbox = z.looseObject({
  id: z.string(),
  state: z.string(),
  profileId: z.string(),
  ttlSeconds: z.number(),
});
const page = z.looseObject({
  items: z.array(z.looseObject({})),
  nextCursor: z.string().nullable().optional(),
});
const shapes: Record<string, z.ZodType> = {
  "sandboxes.create": sandbox,
  "sandboxes.get": sandbox,
  "sandboxes.extend": sandbox,
  "sandboxes.destroy": sandbox,
  "sandboxes.list": page,
  "usage.list": page,
  "reconciler.findings": page,
  "credits.balance": z.looseObject({
    balanceMicros: micros,
    heldMicros: micros,
    availableMicros: micros,
  }),
};
const anyAnswer = z.union([z.looseObject({}), z.array(z.unknown())]);

/** Thrown (as a tRPC error's cause) when an answer is not what the Sandboxer API sends. */
export class AnswerShapeError extends Error {
  constructor(readonly path: string) {
    super(`the answer to ${path} is not what the Sandboxer API sends`);
    this.name = "AnswerShapeError";
  }
}

export function answerShapeLink(): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) =>
        next(op).subscribe({
          next(value) {
            const data = (value.result as { data?: unknown }).data;
            if (!(shapes[op.path] ?? anyAnswer).safeParse(data).success) {
              observer.error(TRPCClientError.from(new AnswerShapeError(op.path)));
              return;
            }
            observer.next(value);
          },
          error: (err) => observer.error(err),
          complete: () => observer.complete(),
        }),
      );
}
