import { createCallerFactory, router } from "./init";
import { creditsRouter, meRouter, profilesRouter } from "./routers/account";
import { sandboxesRouter } from "./routers/sandboxes";
import { credentialsRouter } from "./routers/credentials";
import { capabilitiesRouter } from "./routers/capabilities";
import { apiKeysRouter, registryRouter, reportsRouter } from "./routers/console";
import { teamsRouter } from "./routers/console-teams";
import { reconcilerRouter } from "./routers/reconciler";
import { finHubRouter, usageWithExportsRouter } from "./routers/exports";

export const appRouter = router({
  me: meRouter,
  sandboxes: sandboxesRouter,
  profiles: profilesRouter,
  credits: creditsRouter,
  // usage.list plus usage.export / exports / exportStatus (finance exports).
  usage: usageWithExportsRouter,
  finHub: finHubRouter,
  credentials: credentialsRouter,
  capabilities: capabilitiesRouter,
  // Console: teams and members, API keys, the read-only registry, usage reports.
  teams: teamsRouter,
  apiKeys: apiKeysRouter,
  registry: registryRouter,
  reports: reportsRouter,
  reconciler: reconcilerRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
