import { createCallerFactory, router } from "./init";
import { creditsRouter, meRouter, profilesRouter, usageRouter } from "./routers/account";
import { sandboxesRouter } from "./routers/sandboxes";

export const appRouter = router({
  me: meRouter,
  sandboxes: sandboxesRouter,
  profiles: profilesRouter,
  credits: creditsRouter,
  usage: usageRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
