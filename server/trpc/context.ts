import { randomUUID } from "node:crypto";
import { identify } from "../auth/identity";
import { getRuntime, type Runtime } from "../runtime";
import { PAGE_TEAM_HEADER, type Context } from "./init";

/** Builds the request context: runtime, caller identity (session cookie or API key), request id. */
export async function createContext(opts: { headers: Headers; rt?: Runtime }): Promise<Context> {
  const rt = opts.rt ?? (await getRuntime());
  // A caller's own request id is kept only when it is a plain token (it is echoed in errors and logs).
  const given = opts.headers.get("x-request-id");
  const requestId = given && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
  const identity = await identify(rt, opts.headers);
  const sentKey = Boolean(opts.headers.get("authorization")?.toLowerCase().startsWith("bearer ") || opts.headers.get("x-api-key"));
  const authProblem = !identity && sentKey ? "the API key was not accepted: it is unknown, revoked or expired" : undefined;
  // The team the console page was showing when it sent this request (see teamProcedure).
  const pageTeam = opts.headers.get(PAGE_TEAM_HEADER);
  const pageTeamId = pageTeam && /^[A-Za-z0-9_-]{1,64}$/.test(pageTeam) ? pageTeam : undefined;
  return { rt, identity, requestId, authProblem, pageTeamId };
}
