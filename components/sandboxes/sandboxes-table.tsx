"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import {
  createColumnHelper,
  flexRender,
  getCoreRowModel,
  useReactTable,
} from "@tanstack/react-table";
import type { inferRouterOutputs } from "@trpc/server";
import { Plus } from "lucide-react";
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";
import { useMemo, useState } from "react";
import { useConsole } from "@/components/console/console-context";
import { TtlCountdown, useNow } from "@/components/console/countdown";
import { EmptyState, ErrorState, LoadingRows } from "@/components/console/states";
import { StateBadge } from "@/components/console/state-badge";
import { Button, buttonVariants } from "@/components/ui/button";
import { CursorPager } from "@/components/ui/cursor-pager";
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from "@/components/ui/table";
import { formatMoney, formatTime, shortId } from "@/lib/format";
import { isTerminal } from "@/lib/sandbox-states";
import { useTRPC } from "@/lib/trpc";
import type { AppRouter } from "@/server/trpc/root";
import { SandboxFilters, statesFor, type Filters } from "./sandbox-filters";

type Sandbox = inferRouterOutputs<AppRouter>["sandboxes"]["list"]["items"][number];
const PAGE_SIZE = 25;
const col = createColumnHelper<Sandbox>();

/**
 * The team's sandboxes, newest first. Filters live in the URL (shareable, Back works); the list polls every 2 s while a row on screen is still changing, every 30 s on
 * the first page otherwise (to pick up sandboxes made elsewhere), and never in a hidden tab.
 */
export function SandboxesTable({
  profiles,
  extensions,
}: {
  profiles: string[];
  extensions: string[];
}) {
  const trpc = useTRPC();
  const { can } = useConsole();
  const pathname = usePathname();
  const params = useSearchParams();
  const filters: Filters = {
    state: params.get("state") ?? "",
    profile: params.get("profile") ?? "",
    extension: params.get("extension") ?? "",
  };
  // The cursors of the pages before this one (each page starts after the previous page's last
  // id). Kept in memory, not the URL: thousands of pages deep it would not fit in one.
  const [trail, setTrail] = useState<string[]>([]);
  const cursor = trail.at(-1);

  const setFilters = (next: Filters) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v) q.set(k, v);
    setTrail([]);
    // The native history API updates useSearchParams without a server round trip (Next.js
    // integrates it into its router), so the filter applies at once.
    window.history.replaceState(null, "", q.size ? `${pathname}?${q}` : pathname);
  };

  const input = {
    state: statesFor(filters.state) as Sandbox["state"][] | undefined,
    profile: filters.profile || undefined,
    extension: filters.extension || undefined,
    cursor,
    limit: PAGE_SIZE,
  };
  const query = useQuery(
    trpc.sandboxes.list.queryOptions(input, {
      placeholderData: keepPreviousData,
      refetchInterval: (q) => {
        const items = q.state.data?.items ?? [];
        if (items.some((s) => !isTerminal(s.state))) return 2_000;
        return cursor ? false : 30_000;
      },
    }),
  );
  const items = useMemo(() => query.data?.items ?? [], [query.data]);
  const now = useNow(items.some((s) => s.state === "ready"));

  const columns = useMemo(
    () => [
      col.accessor("id", {
        header: "Sandbox",
        cell: (c) => (
          <Link
            href={`/sandboxes/${c.getValue()}`}
            className="font-mono text-xs font-medium underline-offset-4 hover:underline"
          >
            {c.getValue()}
          </Link>
        ),
      }),
      col.accessor("state", { header: "State", cell: (c) => <StateBadge state={c.getValue()} /> }),
      col.accessor("profileId", { header: "Profile", cell: (c) => shortId(c.getValue()) }),
      col.accessor("extensionId", { header: "Extension", cell: (c) => shortId(c.getValue()) }),
      col.accessor("startedAt", {
        header: "Started",
        cell: (c) => <span className="text-xs">{formatTime(c.getValue())}</span>,
      }),
      col.display({
        id: "ttl",
        header: "TTL left",
        cell: (c) => (
          <TtlCountdown
            expiresAt={c.row.original.state === "ready" ? c.row.original.expiresAt : null}
            now={now}
          />
        ),
      }),
      col.accessor((s) => s.costMicros ?? s.costSoFarMicros, {
        id: "cost",
        header: "Cost so far",
        cell: (c) => <span className="tabular-nums">{formatMoney(c.getValue())}</span>,
      }),
    ],
    [now],
  );
  const table = useReactTable({
    data: items,
    columns,
    getCoreRowModel: getCoreRowModel(),
    manualPagination: true,
  });

  const filtered = Boolean(filters.state || filters.profile || filters.extension);
  return (
    <div className="grid gap-4">
      <SandboxFilters
        value={filters}
        onChange={setFilters}
        profiles={profiles}
        extensions={extensions}
      />
      {query.isError && !query.data ? (
        <ErrorState
          error={query.error}
          onRetry={() => void query.refetch()}
          title="Could not load sandboxes"
        />
      ) : query.isPending ? (
        <LoadingRows label="Loading sandboxes" />
      ) : items.length === 0 ? (
        <EmptyState
          title={filtered ? "No sandboxes match these filters" : "No sandboxes yet"}
          action={
            filtered ? (
              <Button
                variant="outline"
                size="sm"
                onClick={() => setFilters({ state: "", profile: "", extension: "" })}
              >
                Clear filters
              </Button>
            ) : can.manageSandboxes ? (
              <Link href="/sandboxes/new" className={buttonVariants({ size: "sm" })}>
                <Plus aria-hidden /> Create a sandbox
              </Link>
            ) : null
          }
        >
          {filtered
            ? "Try another state, profile or extension."
            : "Sandboxes your team creates, here or through the API, appear in this list."}
        </EmptyState>
      ) : (
        <div className="rounded-lg border">
          <Table aria-label="Sandboxes" aria-busy={query.isFetching}>
            <TableHeader>
              {table.getHeaderGroups().map((hg) => (
                <TableRow key={hg.id}>
                  {hg.headers.map((h) => (
                    <TableHead key={h.id}>
                      {flexRender(h.column.columnDef.header, h.getContext())}
                    </TableHead>
                  ))}
                </TableRow>
              ))}
            </TableHeader>
            <TableBody>
              {table.getRowModel().rows.map((row) => (
                <TableRow key={row.id} data-sandbox-id={row.original.id}>
                  {row.getVisibleCells().map((cell) => (
                    <TableCell key={cell.id}>
                      {flexRender(cell.column.columnDef.cell, cell.getContext())}
                    </TableCell>
                  ))}
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      {query.isError && query.data ? (
        <p role="alert" className="text-xs text-destructive">
          Live updates paused: the server did not answer. Retrying…
        </p>
      ) : null}
      <CursorPager
        label="Pagination"
        trail={trail}
        setTrail={setTrail}
        nextCursor={query.data?.nextCursor}
        backLabel="Previous"
        forwardLabel="Next"
      />
    </div>
  );
}
