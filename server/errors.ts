/** The closed set of application error codes. server/trpc/init.ts maps them to tRPC codes. */
export const appErrorCodes = [
  "NOT_FOUND",
  "INVALID_INPUT",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "INSUFFICIENT_CREDITS",
  "NO_ELIGIBLE_PROVIDER",
  "CONFLICT",
  "CANNOT_EXTEND",
] as const;
export type AppErrorCode = (typeof appErrorCodes)[number];

/**
 * An error whose message is safe to show to the caller. `field` names the input field at fault
 * so forms can show the message beside it.
 */
export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details: { field?: string; [k: string]: unknown } = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;
