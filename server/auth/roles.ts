import { createAccessControl } from "better-auth/plugins/access";
import { adminAc, defaultStatements, memberAc, ownerAc } from "better-auth/plugins/organization/access";

/** Team roles. owner/admin: everything; member: sandboxes; finance: read usage, credits, exports. */
export const teamRoles = ["owner", "admin", "member", "finance"] as const;
export type TeamRole = (typeof teamRoles)[number];

export const canManageSandboxes = (role: TeamRole) => role !== "finance";
export const canAdminTeam = (role: TeamRole) => role === "owner" || role === "admin";
/** Finance exports and billing deliveries: owner, admin and finance; not member. */
export const canExportUsage = (role: TeamRole) => role !== "member";

const ac = createAccessControl({ ...defaultStatements });

/** Better Auth's organization access control, with finance as a role that manages nothing. */
export const organizationAccess = {
  ac,
  roles: {
    owner: ac.newRole(ownerAc.statements),
    admin: ac.newRole(adminAc.statements),
    member: ac.newRole(memberAc.statements),
    finance: ac.newRole({ organization: [], member: [], invitation: [] }),
  },
};
