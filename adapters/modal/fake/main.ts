/**
 * The Modal gRPC fake as its own process (test support, not product code):
 *
 *   npx tsx adapters/modal/fake/main.ts [--port N] [--grpc-port N] [--host ADDR]
 *        [--page-size N] [--token-id ID --token-secret SECRET]
 *
 * Two listeners: the gRPC server the SDK talks to (`--grpc-port`, default any free port) and an
 * HTTP control surface (`--port`, default any free port) under /_fake/, for `npm run up --
 * --fakes` and for chaos tests driving the fake from outside:
 *
 *   GET    /_fake/health                 {"ok":true,"grpcUrl":"http://127.0.0.1:…"}
 *   GET    /_fake/sandboxes              every sandbox with its state, tags, resources, result
 *   GET    /_fake/state                  faults, calls per method, sandboxes created
 *   POST   /_fake/faults                 a fault or an array of them (see FakeFault in server.ts), e.g.
 *                                          {"kind":"slow_start","readyAfterMs":120000,"times":1}
 *                                          {"kind":"gpu_capacity","gpuTypes":["H100"]}
 *                                          {"kind":"unavailable","methods":["SandboxCreate"],"times":4}
 *                                          {"kind":"unauthenticated","times":1}
 *                                          {"kind":"end_early","afterMs":30000,"exitCode":1}
 *   DELETE /_fake/faults                 clear every fault
 *   POST   /_fake/sandboxes/<id>/end     end one now: {"status":2,"exitcode":1} (4 = timed out, 3 = killed)
 *   POST   /_fake/page-size              {"pageSize":3}
 *   POST   /_fake/reset                  forget sandboxes, images, faults and counters
 *
 * Prints `modal fake listening on <grpc url> (control <http url>)` when ready. Accepts only the
 * token pair given (default: the fake pair `npm run up -- --fakes` hands to the app).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseFakeArgs, stopOnSignals } from "../../../server/testing/fake-main";
import { createModalFake, type FakeFault } from "./server";
import type { MethodName } from "./wire";

const FAKE_TOKEN_ID = "ak-sandboxerfake0000000000";
const FAKE_TOKEN_SECRET = "as-sandboxerfake0000000000";

const USAGE = "usage: tsx adapters/modal/fake/main.ts [--port N] [--grpc-port N] [--host ADDR] [--page-size N] [--token-id ID --token-secret SECRET]";
const METHODS: MethodName[] = [
  "AuthTokenGet", "AppGetOrCreate", "EnvironmentGetOrCreate", "ImageGetOrCreate", "ImageJoinStreaming", "SandboxCreate",
  "SandboxGetTaskId", "SandboxWait", "SandboxTerminate", "SandboxList", "SandboxTagsSet", "SandboxTagsGet",
];

const opts = (() => {
  const args = parseFakeArgs(process.argv.slice(2), USAGE, {
    port: { type: "int", min: 0, default: "0" },
    "grpc-port": { type: "int", min: 0, default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "page-size": { type: "int", min: 1, default: "50" },
    "token-id": { type: "string", default: FAKE_TOKEN_ID },
    "token-secret": { type: "string", default: FAKE_TOKEN_SECRET },
  });
  if (!args["token-id"] || !args["token-secret"]) {
    console.error(`--token-id and --token-secret must not be empty\n${USAGE}`);
    process.exit(2);
  }
  return { port: args.port!, grpcPort: args["grpc-port"]!, host: args.host!, pageSize: args["page-size"]!, tokenId: args["token-id"], tokenSecret: args["token-secret"] };
})();
const fake = createModalFake({ tokens: { [opts.tokenId]: opts.tokenSecret }, pageSize: opts.pageSize });
const grpcUrl = await fake.listen(opts.grpcPort, opts.host);

async function body(req: http.IncomingMessage): Promise<unknown> {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : {};
}
const send = (res: http.ServerResponse, status: number, value?: unknown) => {
  res.writeHead(status, value === undefined ? {} : { "content-type": "application/json" });
  res.end(value === undefined ? undefined : JSON.stringify(value, null, 2));
};

const control = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://fake");
  const p = url.pathname;
  try {
    if (req.method === "GET" && p === "/_fake/health") return send(res, 200, { ok: true, grpcUrl });
    if (req.method === "GET" && p === "/_fake/sandboxes") return send(res, 200, fake.sandboxes());
    if (req.method === "GET" && p === "/_fake/state") {
      return send(res, 200, { faults: fake.faults(), created: fake.createCount(), calls: Object.fromEntries(METHODS.map((m) => [m, fake.calls(m)])) });
    }
    if (req.method === "POST" && p === "/_fake/faults") {
      const b = await body(req);
      const faults = (Array.isArray(b) ? b : [b]) as FakeFault[];
      for (const f of faults) {
        if (!f || !["unauthenticated", "unavailable", "slow_start", "end_early", "gpu_capacity"].includes(f.kind)) return send(res, 400, { error: `unknown fault ${JSON.stringify(f)}` });
      }
      fake.inject(...faults);
      return send(res, 204);
    }
    if (req.method === "DELETE" && p === "/_fake/faults") {
      fake.clearFaults();
      return send(res, 204);
    }
    if (req.method === "POST" && p === "/_fake/reset") {
      fake.reset();
      return send(res, 204);
    }
    if (req.method === "POST" && p === "/_fake/page-size") {
      const n = Number((await body(req) as { pageSize?: unknown }).pageSize);
      if (!Number.isInteger(n) || n < 1) return send(res, 400, { error: "pageSize must be a whole number ≥ 1" });
      fake.setPageSize(n);
      return send(res, 204);
    }
    const end = /^\/_fake\/sandboxes\/([^/]+)\/end$/.exec(p);
    if (req.method === "POST" && end) {
      const b = (await body(req)) as { status?: number; exitcode?: number };
      try {
        fake.endSandbox(decodeURIComponent(end[1]!), { status: b.status, exitcode: b.exitcode });
      } catch {
        return send(res, 404, { error: "no such sandbox" });
      }
      return send(res, 204);
    }
    return send(res, 404, { error: `no route ${req.method} ${p}` });
  } catch (err) {
    return send(res, 400, { error: (err as Error).message });
  }
});
await new Promise<void>((resolve) => control.listen(opts.port, opts.host, resolve));
const controlUrl = `http://${opts.host}:${(control.address() as AddressInfo).port}`;
console.log(`modal fake listening on ${grpcUrl} (control ${controlUrl})`);

stopOnSignals(() => {
  control.close();
  return fake.close();
});
