/**
 * Writes a page's state into the address bar without a server round trip: Next.js integrates
 * the native history API into its router, so useSearchParams sees the new query at once.
 * "push" for a person's action (Back undoes it), "replace" for corrections of the address.
 */
export function writeQuery(
  pathname: string,
  values: Record<string, string | number | null | undefined>,
  mode: "push" | "replace",
) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values))
    if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  const url = q.size ? `${pathname}?${q}` : pathname;
  if (mode === "push") window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}
