import { describe, expect, it } from "vitest";
import { limitBody } from "./body-limit";

const url = "http://127.0.0.1/api/trpc/sandboxes.create";

function chunked(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i < parts.length) c.enqueue(enc.encode(parts[i++]));
      else c.close();
    },
  });
}

describe("request body limit", () => {
  it("passes a body within the limit through unchanged", async () => {
    const body = JSON.stringify({ profile: "burst-sandbox", ttlSeconds: 60, note: "Zürich ☃" });
    const out = await limitBody(
      new Request(url, { method: "POST", body, headers: { "content-type": "application/json" } }),
      1024,
    );
    expect(out).toBeInstanceOf(Request);
    const req = out as Request;
    expect(await req.text()).toBe(body);
    expect(req.headers.get("content-type")).toBe("application/json");
    expect(req.method).toBe("POST");
  });

  it("refuses a declared Content-Length over the limit without reading the body", async () => {
    let pulled = 0;
    const body = new ReadableStream({
      pull: (c) => {
        pulled++;
        c.enqueue(new Uint8Array(10));
      },
    });
    const req = new Request(url, {
      method: "POST",
      body,
      headers: { "content-length": "5000" },
      duplex: "half",
    } as RequestInit);
    const out = await limitBody(req, 1024);
    expect(out).toBeInstanceOf(Response);
    expect((out as Response).status).toBe(413);
    expect(await (out as Response).json()).toEqual({
      error: {
        code: "PAYLOAD_TOO_LARGE",
        message: "request body is larger than the 1024-byte limit",
      },
    });
    expect(pulled).toBeLessThanOrEqual(1); // the stream's own prefetch at most
  });

  it("stops reading a body without a length as soon as it passes the limit", async () => {
    const parts = Array.from({ length: 1000 }, () => "x".repeat(100));
    const req = new Request(url, {
      method: "POST",
      body: chunked(parts),
      duplex: "half",
    } as RequestInit);
    const out = await limitBody(req, 1024);
    expect((out as Response).status).toBe(413);
  });

  it("accepts a body of exactly the limit, and lets GET through", async () => {
    const exact = await limitBody(
      new Request(url, { method: "POST", body: "y".repeat(1024) }),
      1024,
    );
    expect(await (exact as Request).text()).toHaveLength(1024);
    const get = new Request(url);
    expect(await limitBody(get, 1)).toBe(get);
  });
});
