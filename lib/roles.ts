/**
 * Mirrors of the API's role rules (server/auth/roles.ts) for hiding controls; the API enforces
 * them regardless. Kept here so the browser bundle does not pull in Better Auth.
 */

/** Finance exports: owner, admin and finance; not member (canExportUsage). */
export const canExportUsage = (role: string | null | undefined) =>
  role === "owner" || role === "admin" || role === "finance";

/** What a member is told wherever usage could be exported (Exports, Usage). */
export const EXPORT_REFUSED =
  "Your role cannot export usage. Finance exports are for the team's owners, admins and finance members; ask one of them.";
