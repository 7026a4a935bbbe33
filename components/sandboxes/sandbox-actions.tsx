"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Clock, Trash2 } from "lucide-react";
import { useState } from "react";
import { useConsole } from "@/components/console/console-context";
import {
  AlertDialog,
  AlertDialogAction,
  AlertDialogCancel,
  AlertDialogContent,
  AlertDialogDescription,
  AlertDialogFooter,
  AlertDialogHeader,
  AlertDialogTitle,
  AlertDialogTrigger,
} from "@/components/ui/alert-dialog";
import { Button } from "@/components/ui/button";
import { NativeSelect } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { toSafeError, type SafeError } from "@/lib/errors";
import { formatDuration, shortId } from "@/lib/format";
import { isTerminal } from "@/lib/sandbox-states";
import { useTRPC } from "@/lib/trpc";
import type { SandboxDetailData } from "./sandbox-detail";

const EXTEND_CHOICES = [
  { seconds: 300, label: "+5 minutes" },
  { seconds: 900, label: "+15 minutes" },
  { seconds: 1800, label: "+30 minutes" },
  { seconds: 3600, label: "+1 hour" },
];

/** Extend and destroy, for roles that manage sandboxes; finance sees neither. */
export function SandboxActions({ sandbox }: { sandbox: SandboxDetailData }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { can } = useConsole();
  const [chosen, setBy] = useState<number | null>(null);
  const [error, setError] = useState<SafeError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const refresh = async () => {
    await queryClient.invalidateQueries({
      queryKey: trpc.sandboxes.get.queryKey({ id: sandbox.id }),
    });
    await queryClient.invalidateQueries({ queryKey: trpc.sandboxes.list.queryKey() });
  };
  const extend = useMutation(trpc.sandboxes.extend.mutationOptions({ onSettled: refresh }));
  const destroy = useMutation(trpc.sandboxes.destroy.mutationOptions({ onSettled: refresh }));
  const showActions = can.manageSandboxes && !isTerminal(sandbox.state);
  // Whether the sandbox's extension can extend at all (Modal cannot): the registry says so, and
  // the control is disabled with the reason rather than left to fail on the server.
  const registry = useQuery(
    trpc.registry.list.queryOptions(undefined, {
      enabled: showActions && sandbox.extensionId !== null,
      staleTime: 5 * 60_000,
    }),
  );

  if (!showActions) return null;
  const destroying = sandbox.state === "destroying" || sandbox.destroyRequestedAt !== null;
  const ext = registry.data?.extensions.find((x) => x.id === sandbox.extensionId);
  const profile = registry.data?.profiles.find((p) => p.id === sandbox.profileId);
  // The API refuses a TTL above the lower of the profile's and the provider's maximum: offer
  // only what fits, and say why the rest is not offered.
  const maxTtl = ext && profile ? Math.min(profile.ttl.maxSeconds, ext.limits.maxTtlSeconds) : null;
  const room = maxTtl === null ? null : maxTtl - sandbox.ttlSeconds;
  const fits = (seconds: number) => room === null || seconds <= room;
  const by =
    chosen !== null && fits(chosen)
      ? chosen
      : (EXTEND_CHOICES.find((c) => fits(c.seconds))?.seconds ?? null);
  const maxNote =
    maxTtl !== null
      ? `${shortId(sandbox.profileId)} on ${ext?.name ?? shortId(sandbox.extensionId)} allows a TTL of at most ${formatDuration(maxTtl)}`
      : "";
  const cannotExtend =
    ext && !ext.limits.canExtend
      ? `${ext.name} cannot extend a running sandbox; create a new one with a longer TTL.`
      : by === null
        ? `This sandbox is at its maximum TTL: ${maxNote}. Create a new one to keep working.`
        : null;
  const someTooLong = by !== null && EXTEND_CHOICES.some((c) => !fits(c.seconds));

  return (
    <div className="flex flex-col items-end gap-1">
      <div className="flex flex-wrap items-end gap-2">
        {sandbox.state === "ready" && !destroying ? (
          <form
            className="flex items-end gap-2"
            aria-label="Extend TTL"
            onSubmit={async (e) => {
              e.preventDefault();
              setError(null);
              setNotice(null);
              try {
                if (by === null) return;
                const res = await extend.mutateAsync({ id: sandbox.id, bySeconds: by });
                setNotice(`Extended: the TTL is now ${formatDuration(res.ttlSeconds)}.`);
              } catch (err) {
                setError(toSafeError(err));
              }
            }}
          >
            <div className="grid gap-1">
              <Label htmlFor="extend-by" className="text-xs text-muted-foreground">
                Extend by
              </Label>
              <NativeSelect
                id="extend-by"
                className="w-36"
                value={by ?? ""}
                onChange={(e) => setBy(Number(e.target.value))}
                disabled={cannotExtend !== null}
                aria-invalid={error ? true : undefined}
                aria-describedby={
                  cannotExtend
                    ? "extend-unavailable"
                    : error
                      ? "extend-error"
                      : someTooLong
                        ? "extend-limit"
                        : undefined
                }
              >
                {EXTEND_CHOICES.map((c) => (
                  <option key={c.seconds} value={c.seconds} disabled={!fits(c.seconds)}>
                    {c.label}
                    {fits(c.seconds) ? "" : " (over the maximum)"}
                  </option>
                ))}
              </NativeSelect>
            </div>
            <Button
              type="submit"
              variant="outline"
              disabled={extend.isPending || cannotExtend !== null || by === null}
              aria-describedby={cannotExtend ? "extend-unavailable" : undefined}
            >
              <Clock aria-hidden /> {extend.isPending ? "Extending…" : "Extend"}
            </Button>
          </form>
        ) : null}
        <AlertDialog>
          <AlertDialogTrigger asChild>
            <Button variant="destructive" disabled={destroying || destroy.isPending}>
              <Trash2 aria-hidden /> {destroying ? "Destroying…" : "Destroy"}
            </Button>
          </AlertDialogTrigger>
          <AlertDialogContent>
            <AlertDialogHeader>
              <AlertDialogTitle>Destroy {sandbox.id}?</AlertDialogTitle>
              <AlertDialogDescription>
                The sandbox stops now and everything in it is lost. You are charged for the time it
                ran; the rest of the hold is released.
              </AlertDialogDescription>
            </AlertDialogHeader>
            <AlertDialogFooter>
              <AlertDialogCancel>Keep it</AlertDialogCancel>
              <AlertDialogAction
                onClick={async () => {
                  setError(null);
                  setNotice(null);
                  try {
                    await destroy.mutateAsync({ id: sandbox.id });
                  } catch (err) {
                    setError(toSafeError(err));
                  }
                }}
              >
                Destroy sandbox
              </AlertDialogAction>
            </AlertDialogFooter>
          </AlertDialogContent>
        </AlertDialog>
      </div>
      {cannotExtend && sandbox.state === "ready" && !destroying ? (
        <p
          id="extend-unavailable"
          data-testid="extend-unavailable"
          className="max-w-md text-right text-xs text-muted-foreground"
        >
          {cannotExtend}
        </p>
      ) : null}
      {someTooLong && !cannotExtend && sandbox.state === "ready" && !destroying ? (
        <p
          id="extend-limit"
          data-testid="extend-limit"
          className="max-w-md text-right text-xs text-muted-foreground"
        >
          The longer choices are disabled: {maxNote}, and this one is{" "}
          {formatDuration(sandbox.ttlSeconds)} already.
        </p>
      ) : null}
      {error ? (
        <p
          id="extend-error"
          role="alert"
          className="max-w-md text-right text-xs font-medium text-destructive"
        >
          {error.message}
        </p>
      ) : null}
      {notice ? (
        <p role="status" className="text-xs text-muted-foreground">
          {notice}
        </p>
      ) : null}
    </div>
  );
}
