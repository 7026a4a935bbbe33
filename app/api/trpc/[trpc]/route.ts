import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { API_BODY_LIMIT_BYTES, API_MAX_BATCH, limitBody } from "@/server/http/body-limit";
import { createContext } from "@/server/trpc/context";
import { getRuntime } from "@/server/runtime";
import { appRouter } from "@/server/trpc/root";

export const dynamic = "force-dynamic";

const handler = async (incoming: Request) => {
  const req = await limitBody(incoming, API_BODY_LIMIT_BYTES);
  if (req instanceof Response) return req;
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    maxBatchSize: API_MAX_BATCH,
    createContext: () => createContext({ headers: req.headers }),
    onError: ({ error, ctx, path }) => {
      // Procedure errors are logged by the error middleware; this catches context failures.
      if (ctx || error.code !== "INTERNAL_SERVER_ERROR") return;
      void getRuntime().then((rt) =>
        rt.logger.error({ path, err: error.cause ?? error }, "request context failed"),
      );
    },
  });
};

export { handler as GET, handler as POST };
