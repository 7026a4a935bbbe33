const HOME = "/sandboxes";
const BASE = "http://sandboxer.invalid";

/**
 * Where to go after signing in: only a path on this site, so `?next=` cannot send anyone to
 * another origin. Browsers read `/\host` as `//host` and drop tabs and line breaks inside a URL,
 * so those are refused outright; what is left must resolve to this origin.
 */
export function safeNext(next: string | null | undefined): string {
  // eslint-disable-next-line no-control-regex
  if (!next || !next.startsWith("/") || next.startsWith("//") || /[\\\u0000-\u001f\u007f]/.test(next)) return HOME;
  try {
    const url = new URL(next, BASE);
    return url.origin === BASE ? `${url.pathname}${url.search}${url.hash}` : HOME;
  } catch {
    return HOME;
  }
}
