import { metricsText } from "@/server/metrics";
import { getRuntime } from "@/server/runtime";

export const dynamic = "force-dynamic";

/** Prometheus metrics of this process (and the shared DB/queue gauges). */
export async function GET() {
  const { body, contentType } = await metricsText(await getRuntime());
  return new Response(body, { headers: { "content-type": contentType } });
}
