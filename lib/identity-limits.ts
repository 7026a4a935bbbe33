import { hasControlCharacters } from "../server/trpc/inputs";

/**
 * The app's length limits for people, teams and keys: Better Auth's hooks
 * (server/auth/auth.ts) and the tRPC inputs refuse longer values; forms check them first so the
 * refusal is said beside the field.
 */
export const IDENTITY_LIMITS = {
  userName: 100,
  email: 200,
  teamName: 60,
  teamSlug: 100,
  apiKeyName: 60,
} as const;
export const PASSWORD_LIMITS = { min: 8, max: 128 } as const;

export type SignUpErrors = { name?: string; email?: string; password?: string };

const CONTROL_MESSAGE = "Remove line breaks, tabs and other control characters.";

/** What the sign-up form says before sending: the same rules the server applies. */
export function checkSignUp(input: {
  name: string;
  email: string;
  password: string;
}): SignUpErrors {
  const errors: SignUpErrors = {};
  if (!input.name) errors.name = "Enter your name.";
  else if (input.name.length > IDENTITY_LIMITS.userName)
    errors.name = `Use at most ${IDENTITY_LIMITS.userName} characters.`;
  else if (hasControlCharacters(input.name)) errors.name = CONTROL_MESSAGE;
  if (input.email.length > IDENTITY_LIMITS.email)
    errors.email = `Use at most ${IDENTITY_LIMITS.email} characters.`;
  else if (hasControlCharacters(input.email) || !/^\S+@\S+\.\S+$/.test(input.email))
    errors.email = "Enter a valid email address.";
  if (input.password.length < PASSWORD_LIMITS.min)
    errors.password = `Use at least ${PASSWORD_LIMITS.min} characters.`;
  else if (input.password.length > PASSWORD_LIMITS.max)
    errors.password = `Use at most ${PASSWORD_LIMITS.max} characters.`;
  return errors;
}

/**
 * The server's refusal of one field ("name: at most 100 characters", code INVALID_INPUT) as a
 * sentence for beside that field; null when it names no field the form has.
 */
export function fieldOfAuthError(message: string | undefined): SignUpErrors | null {
  const m = /^(name|email|password): (.+)$/.exec(message ?? "");
  if (!m) return null;
  const text = m[2]!.trim();
  return {
    [m[1]!]: `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`,
  };
}
