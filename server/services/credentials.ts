import { and, eq } from "drizzle-orm";
import { teamCredentialBindings } from "../../db/schema";
import type { Extension } from "../catalog/load";
import { AppError } from "../errors";
import { newId } from "../ids";
import type { Runtime } from "../runtime";
import { parseSecretRef, SECRET_REF_HELP, type SecretResolution } from "../secrets";

export type CredentialSource = "team" | "platform" | "none";
export type Bindings = Map<string, Map<string, string>>; // extensionId → field → secret_ref

export async function teamBindings(rt: Pick<Runtime, "db">, teamId: string): Promise<Bindings> {
  return bindingsOf(await rt.db.select().from(teamCredentialBindings).where(eq(teamCredentialBindings.teamId, teamId)));
}

export function bindingsOf(rows: { extensionId: string; field: string; secretRef: string }[]): Bindings {
  const out: Bindings = new Map();
  for (const r of rows) {
    const fields = out.get(r.extensionId) ?? new Map<string, string>();
    fields.set(r.field, r.secretRef);
    out.set(r.extensionId, fields);
  }
  return out;
}

/**
 * The secret references to use for a team on an extension: the team's own (BYOK) where it bound
 * one, the platform default from the manifest otherwise. Source is "team" when any field is the
 * team's, so usage records say whose key paid the provider.
 */
export function effectiveRefs(ext: Extension, bindings: Bindings): { refs: Record<string, string>; source: CredentialSource } {
  const fields = Object.keys(ext.credentials);
  if (fields.length === 0) return { refs: {}, source: "none" };
  const own = bindings.get(ext.id);
  const refs: Record<string, string> = {};
  let teamOwned = false;
  for (const field of fields) {
    const ref = own?.get(field);
    if (ref) teamOwned = true;
    refs[field] = ref ?? ext.credentials[field]!;
  }
  return { refs, source: teamOwned ? "team" : "platform" };
}

/**
 * Resolves a team's credentials for one extension, at the moment of use. A job passes the
 * bindings it read with its row a moment earlier; otherwise they are read here.
 */
export async function resolveTeamCredentials(
  rt: Pick<Runtime, "db" | "env" | "resolveSecrets">,
  teamId: string,
  ext: Extension,
  readBindings?: Bindings,
): Promise<SecretResolution & { source: CredentialSource }> {
  const bindings = readBindings ?? (await teamBindings(rt, teamId));
  const { refs, source } = effectiveRefs(ext, bindings);
  // Checked again at use, not only at bind time: a binding made before the rule, or under a
  // looser setting, must not reach another team's secret either.
  for (const [field, ref] of bindings.get(ext.id) ?? []) {
    const problem = teamRefProblem(rt, teamId, ref);
    if (problem) return { ok: false, reason: `credential ${field}: ${problem}`, source };
  }
  return { ...(await rt.resolveSecrets(refs)), source };
}

/** Why a team may not use this reference, or null. Scheme allow-list, and OpenBao path scoping. */
export function teamRefProblem(rt: Pick<Runtime, "env">, teamId: string, ref: string): string | null {
  const parsed = parseSecretRef(ref);
  if (!parsed) return `must be ${SECRET_REF_HELP}`;
  const allowed = byokSchemes(rt);
  if (!allowed.includes(parsed.scheme)) return `${parsed.scheme} references are not allowed for team keys here (allowed: ${allowed.join(", ")})`;
  const template = rt.env.SANDBOXER_BYOK_OPENBAO_PATH;
  if (parsed.scheme === "openbao" && template !== "*") {
    const prefix = template.replaceAll("{team}", teamId);
    if (!parsed.secretPath.startsWith(prefix)) return `team keys must live under openbao://${parsed.mount}/${prefix}… (this team's own path)`;
  }
  return null;
}

/** Schemes a team may name in its own bindings (operator setting SANDBOXER_BYOK_SCHEMES). */
export function byokSchemes(rt: Pick<Runtime, "env">): string[] {
  return [...new Set(rt.env.SANDBOXER_BYOK_SCHEMES.split(",").map((s) => s.trim()).filter(Boolean))];
}

export async function bindCredential(
  rt: Runtime,
  actor: { teamId: string; userId: string },
  input: { extensionId: string; field: string; secretRef: string },
) {
  const ext = rt.catalog.extensions.get(input.extensionId);
  if (!ext) throw new AppError("INVALID_INPUT", `unknown extension "${input.extensionId}"`, { field: "extensionId" });
  if (!(input.field in ext.credentials)) {
    const known = Object.keys(ext.credentials).join(", ") || "none";
    throw new AppError("INVALID_INPUT", `${ext.id} has no credential field "${input.field}" (fields: ${known})`, { field: "field" });
  }
  const problem = teamRefProblem(rt, actor.teamId, input.secretRef.trim());
  if (problem) throw new AppError("INVALID_INPUT", problem, { field: "secretRef" });
  const parsed = parseSecretRef(input.secretRef.trim())!;
  await rt.db
    .insert(teamCredentialBindings)
    .values({ id: newId("cred"), teamId: actor.teamId, extensionId: ext.id, field: input.field, secretRef: input.secretRef.trim(), createdBy: actor.userId })
    .onConflictDoUpdate({
      target: [teamCredentialBindings.teamId, teamCredentialBindings.extensionId, teamCredentialBindings.field],
      set: { secretRef: input.secretRef.trim(), createdBy: actor.userId, createdAt: new Date() },
    });
  rt.logger.info({ teamId: actor.teamId, extensionId: ext.id, field: input.field, scheme: parsed.scheme }, "credential bound");
  return checkCredentials(rt, actor.teamId, ext.id);
}

export async function removeCredential(rt: Runtime, teamId: string, input: { extensionId: string; field: string }) {
  await rt.db
    .delete(teamCredentialBindings)
    .where(and(eq(teamCredentialBindings.teamId, teamId), eq(teamCredentialBindings.extensionId, input.extensionId), eq(teamCredentialBindings.field, input.field)));
}

/** Whether a team's credentials for an extension resolve now, and from where — never the values. */
export async function checkCredentials(rt: Runtime, teamId: string, extensionId: string) {
  const ext = rt.catalog.extensions.get(extensionId);
  if (!ext) throw new AppError("NOT_FOUND", `unknown extension "${extensionId}"`);
  const resolved = await resolveTeamCredentials(rt, teamId, ext);
  return { extensionId, source: resolved.source, resolves: resolved.ok, reason: resolved.ok ? null : resolved.reason };
}

export async function listCredentialBindings(rt: Runtime, teamId: string) {
  const bindings = await teamBindings(rt, teamId);
  return Promise.all(
    [...rt.catalog.extensions.values()]
      .filter((ext) => Object.keys(ext.credentials).length > 0)
      .map(async (ext) => ({
        name: ext.name,
        fields: Object.keys(ext.credentials).map((field) => ({
          field,
          platformRef: ext.credentials[field]!,
          teamRef: bindings.get(ext.id)?.get(field) ?? null,
        })),
        ...(await checkCredentials(rt, teamId, ext.id)),
      })),
  );
}
