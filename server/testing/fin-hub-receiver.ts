/**
 * A local fin-hub for tests, the bench and the demo: node:http, checks every request with the
 * reference verifier against the raw bytes, stores each batch once by batch id, and can be told
 * to misbehave (500, 429 with Retry-After, hang past the client's timeout, or store the batch and
 * then drop the connection without answering).
 *
 *   POST <any path>   a batch → 200 {"stored":true} (or {"duplicate":true} for a known batch id
 *                     with the same body; 409 for a known id with a different body)
 *   GET  /totals      what it holds: batches, records, total micro-dollars, per team
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { formatMicros } from "../money";
import type { FinHubBatchBody } from "../fin-hub/payload";
import { FIN_HUB_HEADERS, verify } from "../fin-hub/verify";

export type ReceiverFault =
  | { kind: "status"; status: number; body?: string }
  | { kind: "retry-after"; seconds: number; status?: 429 | 503 }
  | { kind: "hang"; store?: boolean }
  | { kind: "store-then-drop" };

export type StoredBatch = { id: string; seq: number; sha256: string; body: FinHubBatchBody; receivedAt: Date; deliveries: number };

export type ReceiverOptions = {
  secret: string | string[];
  port?: number;
  host?: string;
  /** Delay before answering each batch POST, in ms (a slow fin-hub). */
  latencyMs?: number;
  toleranceSeconds?: number;
  /** Faults applied to the next POSTs, one each, in order; then normal service. */
  faults?: ReceiverFault[];
  /** A fault for every POST while set (e.g. fin-hub is down); overrides the queue. */
  always?: ReceiverFault | null;
  /** Asked for a fault when none is queued (e.g. fail a share of requests at random). */
  decide?: () => ReceiverFault | null;
  onBatch?: (b: StoredBatch) => void;
};

export type FinHubReceiver = Awaited<ReturnType<typeof startFinHubReceiver>>;

export async function startFinHubReceiver(opts: ReceiverOptions) {
  const batches = new Map<string, StoredBatch>();
  /** record id → batch id, to prove no record arrived under two batch ids. */
  const recordBatch = new Map<string, string>();
  const stats = { requests: 0, rejectedSignatures: 0, duplicates: 0, conflicts: 0, recordConflicts: 0, faultsServed: 0 };
  const faults: ReceiverFault[] = [...(opts.faults ?? [])];
  let always: ReceiverFault | null = opts.always ?? null;
  let latencyMs = opts.latencyMs ?? 0;
  const hanging = new Set<http.ServerResponse>();
  let total = 0n;
  let records = 0;
  const byTeam = new Map<string, { name: string; records: number; micros: bigint }>();

  const store = (raw: Buffer, body: FinHubBatchBody): { status: number; payload: unknown } => {
    const sha256 = createHash("sha256").update(raw).digest("hex");
    const known = batches.get(body.batch_id);
    if (known) {
      known.deliveries++;
      stats.duplicates++;
      if (known.sha256 !== sha256) {
        stats.conflicts++;
        return { status: 409, payload: { error: "batch id already stored with a different body" } };
      }
      return { status: 200, payload: { duplicate: true, batch_id: body.batch_id } };
    }
    const stored: StoredBatch = { id: body.batch_id, seq: body.sequence, sha256, body, receivedAt: new Date(), deliveries: 1 };
    batches.set(body.batch_id, stored);
    for (const r of body.records) {
      const prev = recordBatch.get(r.record_id);
      if (prev && prev !== body.batch_id) stats.recordConflicts++;
      recordBatch.set(r.record_id, body.batch_id);
      const micros = BigInt(r.cost_micros);
      total += micros;
      records++;
      const t = byTeam.get(r.team.id) ?? { name: r.team.name, records: 0, micros: 0n };
      t.records++;
      t.micros += micros;
      byTeam.set(r.team.id, t);
    }
    opts.onBatch?.(stored);
    return { status: 200, payload: { stored: true, batch_id: body.batch_id } };
  };

  const totals = () => ({
    batches: batches.size,
    records,
    total_micros: total.toString(),
    total: formatMicros(total),
    by_team: Object.fromEntries([...byTeam].map(([id, t]) => [id, { name: t.name, records: t.records, total_micros: t.micros.toString(), total: formatMicros(t.micros) }])),
    ...stats,
  });

  const send = (res: http.ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(payload));
  };

  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url?.startsWith("/totals")) return send(res, 200, totals());
    if (req.method !== "POST") return send(res, 405, { error: "POST a batch" });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      stats.requests++;
      const raw = Buffer.concat(chunks);
      const check = verify(raw, req.headers, opts.secret, { toleranceSeconds: opts.toleranceSeconds });
      if (!check.ok) {
        stats.rejectedSignatures++;
        return send(res, 401, { error: check.reason, message: check.message });
      }
      let body: FinHubBatchBody;
      try {
        body = JSON.parse(raw.toString("utf8")) as FinHubBatchBody;
      } catch {
        return send(res, 400, { error: "body is not JSON" });
      }
      if (req.headers[FIN_HUB_HEADERS.idempotencyKey] !== body.batch_id) return send(res, 400, { error: "Idempotency-Key must equal batch_id" });
      const fault = always ?? faults.shift() ?? opts.decide?.() ?? null;
      if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
      if (fault) {
        stats.faultsServed++;
        switch (fault.kind) {
          case "status":
            return send(res, fault.status, { error: fault.body ?? "injected failure" });
          case "retry-after":
            return send(res, fault.status ?? 429, { error: "slow down" }, { "retry-after": String(fault.seconds) });
          case "hang":
            if (fault.store) store(raw, body);
            hanging.add(res);
            res.on("close", () => hanging.delete(res));
            return; // never answers; the client's timeout fires
          case "store-then-drop":
            store(raw, body);
            req.socket.destroy();
            return;
        }
      }
      const out = store(raw, body);
      send(res, out.status, out.payload);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://${opts.host ?? "127.0.0.1"}:${port}`;

  return {
    url: `${base}/batches`,
    totalsUrl: `${base}/totals`,
    port,
    batches,
    recordBatch,
    stats,
    totals,
    get totalMicros() {
      return total;
    },
    get records() {
      return records;
    },
    addFaults: (...f: ReceiverFault[]) => faults.push(...f),
    setAlways: (f: ReceiverFault | null) => {
      always = f;
    },
    setLatency: (ms: number) => {
      latencyMs = ms;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
