import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { createContext } from "@/server/trpc/context";
import { getRuntime } from "@/server/runtime";
import { appRouter } from "@/server/trpc/root";

export const dynamic = "force-dynamic";

const handler = (req: Request) =>
  fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext({ headers: req.headers }),
    onError: ({ error, ctx, path }) => {
      // Procedure errors are logged by the error middleware; this catches context failures.
      if (ctx || error.code !== "INTERNAL_SERVER_ERROR") return;
      void getRuntime().then((rt) =>
        rt.logger.error({ path, err: error.cause ?? error }, "request context failed"),
      );
    },
  });

export { handler as GET, handler as POST };
