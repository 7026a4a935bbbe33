import { SANDBOX_STATES } from "./sandbox-states";

export type Filters = { state: string; profile: string; extension: string };
export type ListQuery = {
  filters: Filters;
  /** The id the page starts after; undefined on the first page. */
  cursor: string | undefined;
  page: number;
  /** What the address asked for that is not a filter value we know, e.g. `state “bogus”`. */
  ignored: string[];
};

/** A value from the address, short enough to quote back. */
const quote = (v: string) => `“${v.length > 40 ? `${v.slice(0, 40)}…` : v}”`;

const STATE_CHOICES: readonly string[] = ["active", ...SANDBOX_STATES];
const CURSOR = /^sbx_[a-z0-9]+$/;

/** "burst-sandbox" or "profile.burst-sandbox" → the registry's id, if it has one. */
function known(value: string, ids: readonly string[], prefix: string): string | null {
  if (ids.includes(value)) return value;
  return ids.includes(`${prefix}${value}`) ? `${prefix}${value}` : null;
}

/**
 * The sandboxes list's state from its address. A value the list does not know (a typo, an old
 * link, a hand-edited URL) is ignored — the list shows everything for that filter and says so —
 * rather than sent to the API to be refused.
 */
export function parseListQuery(
  params: { get(name: string): string | null },
  profiles: readonly string[],
  extensions: readonly string[],
): ListQuery {
  const ignored: string[] = [];
  const state = params.get("state") ?? "";
  const profile = params.get("profile") ?? "";
  const extension = params.get("extension") ?? "";
  const rawCursor = params.get("cursor") ?? "";
  const filters: Filters = { state: "", profile: "", extension: "" };
  if (state && STATE_CHOICES.includes(state)) filters.state = state;
  else if (state) ignored.push(`state ${quote(state)}`);
  if (profile) {
    const id = known(profile, profiles, "profile.");
    if (id) filters.profile = id;
    else ignored.push(`profile ${quote(profile)}`);
  }
  if (extension) {
    const id = known(extension, extensions, "ext.");
    if (id) filters.extension = id;
    else ignored.push(`extension ${quote(extension)}`);
  }
  let cursor: string | undefined;
  if (rawCursor && CURSOR.test(rawCursor)) cursor = rawCursor;
  else if (rawCursor) ignored.push("page position");
  const pageNumber = Number(params.get("page"));
  const page = cursor ? (Number.isInteger(pageNumber) && pageNumber >= 2 ? pageNumber : 2) : 1;
  return { filters, cursor, page, ignored };
}

/** "active" is every non-terminal state: what most people want to see first. */
export function statesFor(state: string): string[] | undefined {
  if (!state) return undefined;
  if (state === "active") return ["requested", "provisioning", "ready", "destroying"];
  return [state];
}
