"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import {
  createColumnHelper,
  flexRender,
  getCoreRowModel,
  useReactTable,
  type RowData,
} from "@tanstack/react-table";
import type { inferRouterOutputs } from "@trpc/server";
import { Plus } from "lucide-react";
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";
import { useMemo } from "react";
import { useConsole } from "@/components/console/console-context";
import { TtlCountdown, useNow } from "@/components/console/countdown";
import { EmptyState, ErrorState, LoadingRows } from "@/components/console/states";
import { StateBadge } from "@/components/console/state-badge";
import { Badge } from "@/components/ui/badge";
import { Alert } from "@/components/ui/alert";
import { Button, buttonVariants } from "@/components/ui/button";
import { Pager } from "@/components/ui/cursor-pager";
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
import { parseListQuery, statesFor, type Filters } from "@/lib/sandbox-list-query";
import { writeQuery } from "@/lib/url-query";
import { SandboxFilters } from "./sandbox-filters";

declare module "@tanstack/react-table" {
  interface ColumnMeta<TData extends RowData, TValue> {
    /** Right-aligned, tabular figures (money). */
    numeric?: boolean;
  }
}

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

type Sandbox = inferRouterOutputs<AppRouter>["sandboxes"]["list"]["items"][number];
const PAGE_SIZE = 25;
const col = createColumnHelper<Sandbox>();

/** Which cursor each page of a listing was reached from, so Previous works after a reload. */
const PREVIOUS_KEY = "sandboxes-list:previous";
function readPrevious(): Record<string, string> {
  try {
    return JSON.parse(sessionStorage.getItem(PREVIOUS_KEY) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}
function rememberPrevious(listing: string, cursor: string, previous: string) {
  try {
    const all = readPrevious();
    all[`${listing}|${cursor}`] = previous;
    sessionStorage.setItem(PREVIOUS_KEY, JSON.stringify(all));
  } catch {
    // Storage full or off: Previous then goes back to the first page.
  }
}

/**
 * The team's sandboxes, newest first. Filters and the page live in the URL (shareable, reload
 * keeps them, Back undoes each change); the list polls every 2 s while a row on screen is still
 * changing, every 30 s on the first page otherwise (to pick up sandboxes made elsewhere), and
 * never in a hidden tab.
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
  const { filters, cursor, page, ignored } = parseListQuery(params, profiles, extensions);
  // The page is in the URL as the id it starts after (each page starts after the previous
  // page's last id) and its number; which cursor led to it is remembered for the tab, since
  // thousands of pages deep the whole trail would not fit in an address.
  const listing = `${filters.state}|${filters.profile}|${filters.extension}`;

  const go = (next: Filters, at?: { cursor: string; page: number }) =>
    writeQuery(pathname, { ...next, cursor: at?.cursor, page: at?.page }, "push");
  const setFilters = (next: Filters) => go(next);
  const clearIgnored = () =>
    writeQuery(pathname, { ...filters, cursor, page: cursor ? page : undefined }, "replace");

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
      col.accessor("state", {
        header: "State",
        cell: (c) => (
          <span className="inline-flex items-center gap-1.5">
            <StateBadge state={c.getValue()} />
            {c.row.original.attentionReason ? (
              <Badge variant="destructive" title={c.row.original.attentionReason}>
                needs attention
              </Badge>
            ) : null}
          </span>
        ),
      }),
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
        cell: (c) => formatMoney(c.getValue()),
        meta: { numeric: true },
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
      {ignored.length > 0 ? (
        <Alert className="flex flex-wrap items-center justify-between gap-2">
          <span data-testid="ignored-filters">
            {upperFirst(ignored.join(" and "))} in the address{" "}
            {ignored.length === 1
              ? "is not known here, so it is"
              : "are not known here, so they are"}{" "}
            ignored.
          </span>
          <Button variant="outline" size="sm" onClick={clearIgnored}>
            Remove from the address
          </Button>
        </Alert>
      ) : null}
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
                    <TableHead
                      key={h.id}
                      className={h.column.columnDef.meta?.numeric ? "text-right" : undefined}
                    >
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
                    <TableCell
                      key={cell.id}
                      className={
                        cell.column.columnDef.meta?.numeric ? "text-right tabular-nums" : undefined
                      }
                    >
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
      <Pager
        label="Pagination"
        page={page}
        onBack={
          cursor
            ? () => {
                const previous = readPrevious()[`${listing}|${cursor}`];
                // Not known (a shared link, another tab): back to the first page.
                go(filters, previous ? { cursor: previous, page: page - 1 } : undefined);
              }
            : null
        }
        onForward={
          query.data?.nextCursor
            ? () => {
                const next = query.data.nextCursor!;
                rememberPrevious(listing, next, page > 1 && cursor ? cursor : "");
                go(filters, { cursor: next, page: page + 1 });
              }
            : null
        }
        backLabel="Previous"
        forwardLabel="Next"
      />
    </div>
  );
}
