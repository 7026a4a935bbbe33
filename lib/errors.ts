import { TRPCClientError } from "@trpc/client";
import type { AppRouter } from "@/server/trpc/root";

type ErrorData = {
  code?: string;
  httpStatus?: number;
  appCode?: string | null;
  field?: string | null;
  fieldErrors?: Record<string, string[] | undefined> | null;
  requestId?: string | null;
};

export type SafeError = {
  message: string;
  code: string | null;
  field: string | null;
  fieldErrors: Record<string, string>;
};

const GENERIC = "Something went wrong. Please try again.";

/**
 * The only way UI code turns an error into text. The API already sends safe, human-readable
 * messages (internal errors are generic with a request id); anything that is not an API error
 * (network failure, a bug in the page) becomes a generic sentence, never its raw text.
 */
export function toSafeError(err: unknown): SafeError {
  if (err instanceof TRPCClientError) {
    const e = err as TRPCClientError<AppRouter>;
    const data = (e.data ?? null) as ErrorData | null;
    if (!data)
      return {
        message: "Could not reach the server. Check your connection and retry.",
        code: null,
        field: null,
        fieldErrors: {},
      };
    const fieldErrors: Record<string, string> = {};
    for (const [k, v] of Object.entries(data.fieldErrors ?? {})) if (v?.[0]) fieldErrors[k] = v[0];
    let message = e.message || GENERIC;
    // Zod messages are "field: problem"; beside the field the prefix is noise.
    if (data.field && message.startsWith(`${data.field}: `))
      message = message.slice(data.field.length + 2);
    if (data.code === "UNAUTHORIZED") message = "Your session has ended. Sign in again.";
    return { message, code: data.code ?? null, field: data.field ?? null, fieldErrors };
  }
  return { message: GENERIC, code: null, field: null, fieldErrors: {} };
}

/** The message for one form field, if the error belongs to it. */
export function fieldError(err: SafeError | null, field: string): string | undefined {
  if (!err) return undefined;
  if (err.fieldErrors[field]) return err.fieldErrors[field];
  return err.field === field ? err.message : undefined;
}
