"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { authClient } from "@/lib/auth-client";
import { fieldError, toSafeError, type SafeError } from "@/lib/errors";
import { setPageTeam, useTRPC } from "@/lib/trpc";

export function CreateTeamForm() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [error, setError] = useState<SafeError | null>(null);
  const create = useMutation(trpc.teams.create.mutationOptions());

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setError(null);
    const name = String(new FormData(e.currentTarget).get("name") ?? "");
    try {
      const team = await create.mutateAsync({ name });
      // The new team becomes the session's active team, so the console opens on it.
      await authClient.organization.setActive({ organizationId: team.id });
      setPageTeam(team.id);
      queryClient.clear();
      router.push("/sandboxes");
      router.refresh();
    } catch (err) {
      setError(toSafeError(err));
    }
  }

  const nameError = fieldError(error, "name");
  return (
    <form onSubmit={onSubmit} noValidate className="grid gap-4">
      {error && !nameError ? <Alert variant="destructive">{error.message}</Alert> : null}
      <Field label="Team name" error={nameError}>
        <Input name="name" maxLength={60} required placeholder="e.g. Platform team" />
      </Field>
      <Button type="submit" disabled={create.isPending}>
        {create.isPending ? "Creating…" : "Create team"}
      </Button>
    </form>
  );
}
