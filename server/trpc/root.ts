import { createCallerFactory, router } from "./init";
import { creditsRouter, meRouter, profilesRouter, usageRouter } from "./routers/account";
import { sandboxesRouter } from "./routers/sandboxes";
import { credentialsRouter } from "./routers/credentials";
import { capabilitiesRouter } from "./routers/capabilities";
import { apiKeysRouter, registryRouter, reportsRouter } from "./routers/console";
import { teamsRouter } from "./routers/console-teams";

export const appRouter = router({
  me: meRouter,
  sandboxes: sandboxesRouter,
  profiles: profilesRouter,
  credits: creditsRouter,
  usage: usageRouter,
  credentials: credentialsRouter,
  capabilities: capabilitiesRouter,
  // Console: teams and members, API keys, the read-only registry, usage reports.
  teams: teamsRouter,
  apiKeys: apiKeysRouter,
  registry: registryRouter,
  reports: reportsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
