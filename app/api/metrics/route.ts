import { metricsAllowed, metricsText } from "@/server/metrics";
import { getRuntime } from "@/server/runtime";

export const dynamic = "force-dynamic";

/**
 * Prometheus metrics of this process (and the shared DB/queue gauges). With
 * SANDBOXER_METRICS_TOKEN set, only for `Authorization: Bearer <token>`.
 */
export async function GET(req: Request) {
  const rt = await getRuntime();
  if (!metricsAllowed(req.headers.get("authorization"), rt.env.SANDBOXER_METRICS_TOKEN)) {
    return new Response("metrics need Authorization: Bearer <SANDBOXER_METRICS_TOKEN>\n", {
      status: 401,
      headers: { "content-type": "text/plain", "www-authenticate": "Bearer" },
    });
  }
  const { body, contentType } = await metricsText(rt);
  return new Response(body, { headers: { "content-type": contentType } });
}
