"use client";

import { useQueryClient } from "@tanstack/react-query";
import { Check, ChevronsUpDown, Plus } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuLabel,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { authClient } from "@/lib/auth-client";
import { setPageTeam } from "@/lib/trpc";
import { useConsole } from "./console-context";

/**
 * Switches the session's active team (Better Auth organization) and reloads server data.
 * `onSwitched` runs once the switch is done (the small-screen menu closes itself).
 */
export function TeamSwitcher({ onSwitched }: { onSwitched?: () => void }) {
  const { team, teams } = useConsole();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [switching, setSwitching] = useState(false);
  const [failed, setFailed] = useState(false);

  async function switchTo(id: string) {
    if (id === team?.id) return;
    setSwitching(true);
    setFailed(false);
    const res = await authClient.organization.setActive({ organizationId: id }).catch(() => null);
    if (!res || res.error) {
      setFailed(true);
      setSwitching(false);
      return;
    }
    // Every cached query belonged to the previous team; from now on this tab speaks for the new one.
    setPageTeam(id);
    queryClient.clear();
    router.push("/sandboxes");
    router.refresh();
    setSwitching(false);
    onSwitched?.();
  }

  return (
    <div>
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button
            variant="outline"
            className="w-full justify-between"
            aria-label={`Team: ${team?.name ?? "none"}. Switch team`}
            title={team?.name}
            disabled={switching}
          >
            <span className="truncate">{team?.name ?? "No team"}</span>
            <ChevronsUpDown className="opacity-60" aria-hidden />
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="start" className="w-64 max-w-[calc(100vw-2rem)]">
          <DropdownMenuLabel>Your teams</DropdownMenuLabel>
          {teams.map((t) => (
            <DropdownMenuItem key={t.id} onSelect={() => void switchTo(t.id)} title={t.name}>
              <Check className={t.id === team?.id ? "opacity-100" : "opacity-0"} aria-hidden />
              <span className="flex-1 truncate">{t.name}</span>
              <span className="text-xs text-muted-foreground">{t.role}</span>
            </DropdownMenuItem>
          ))}
          <DropdownMenuSeparator />
          <DropdownMenuItem asChild>
            <Link href="/onboarding">
              <Plus aria-hidden /> Create a team
            </Link>
          </DropdownMenuItem>
        </DropdownMenuContent>
      </DropdownMenu>
      {failed ? (
        <p role="alert" className="mt-1 text-xs text-destructive">
          Could not switch teams. Try again.
        </p>
      ) : null}
    </div>
  );
}
