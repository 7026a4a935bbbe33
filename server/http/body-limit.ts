/**
 * Request body size limits for the route handlers (Next.js puts none on them). A declared
 * Content-Length over the limit is refused before anything is read; a body without one
 * (chunked) is read up to the limit and refused as soon as it passes it, so memory stays bounded.
 */
export const API_BODY_LIMIT_BYTES = 1024 * 1024; // tRPC, batched calls included
export const AUTH_BODY_LIMIT_BYTES = 64 * 1024; // sign-in, sign-up, organization calls
/** Calls in one batched tRPC request; more is a 400 (the console's client splits at this size). */
export const API_MAX_BATCH = 25;

function tooLarge(limit: number): Response {
  return new Response(
    JSON.stringify({
      error: {
        code: "PAYLOAD_TOO_LARGE",
        message: `request body is larger than the ${limit}-byte limit`,
      },
    }),
    { status: 413, headers: { "content-type": "application/json", connection: "close" } },
  );
}

/**
 * Returns the request to hand on (its body buffered when it had to be measured), or a 413
 * response to send instead.
 */
export async function limitBody(req: Request, limit: number): Promise<Request | Response> {
  if (req.method === "GET" || req.method === "HEAD" || !req.body) return req;
  const declared = req.headers.get("content-length");
  if (declared !== null) {
    const n = Number(declared);
    if (!Number.isFinite(n) || n < 0) return new Response("bad Content-Length", { status: 400 });
    if (n > limit) return tooLarge(limit);
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return tooLarge(limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    body.set(c, offset);
    offset += c.byteLength;
  }
  return new Request(req.url, {
    method: req.method,
    headers: req.headers,
    body,
    signal: req.signal,
  });
}
