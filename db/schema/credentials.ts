import { index, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { organization } from "./auth";

/**
 * A team's own secret reference for one credential field of one extension (BYOK). Only the
 * reference is stored — where the key lives — never the key.
 */
export const teamCredentialBindings = pgTable(
  "team_credential_bindings",
  {
    id: text("id").primaryKey(),
    teamId: text("team_id")
      .notNull()
      .references(() => organization.id, { onDelete: "cascade" }),
    extensionId: text("extension_id").notNull(),
    field: text("field").notNull(),
    secretRef: text("secret_ref").notNull(),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("team_credential_bindings_uq").on(t.teamId, t.extensionId, t.field),
    index("team_credential_bindings_team_idx").on(t.teamId),
  ],
);
