/** Only same-site paths, so ?next= cannot send anyone to another origin. */
export function safeNext(next: string | null | undefined): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/sandboxes";
}
