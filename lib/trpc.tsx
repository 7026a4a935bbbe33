"use client";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useState, type ReactNode } from "react";
import type { AppRouter } from "@/server/trpc/root";
import { API_MAX_BATCH } from "@/server/http/body-limit";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/**
 * The team this tab's page shows, sent with every request (`x-sandboxer-team`) so the API refuses
 * to act on another team when the session's active team changed in another tab. Set by the
 * console layout's provider and by whatever switches the team in this tab; null outside a team.
 */
let pageTeamId: string | null = null;
export function setPageTeam(teamId: string | null) {
  pageTeamId = teamId;
}
const PAGE_TEAM_HEADER = "x-sandboxer-team"; // server/trpc/init.ts PAGE_TEAM_HEADER

function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        // A 4xx will not change by asking again; only network and 5xx errors are retried.
        retry: (count, err) => {
          const status =
            err instanceof TRPCClientError
              ? (err.data as { httpStatus?: number } | undefined)?.httpStatus
              : undefined;
          return count < 2 && (status === undefined || status >= 500);
        },
      },
    },
  });
}

/** One QueryClient and tRPC client per browser tab (useState keeps them across renders). */
export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url: "/api/trpc",
          maxItems: API_MAX_BATCH,
          headers: () => (pageTeamId ? { [PAGE_TEAM_HEADER]: pageTeamId } : {}),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
