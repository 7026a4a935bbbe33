"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import Link from "next/link";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useConsole } from "@/components/console/console-context";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input, NativeSelect } from "@/components/ui/input";
import { fieldError, toSafeError, type SafeError } from "@/lib/errors";
import { formatDuration, formatMemory, subtractMicros } from "@/lib/format";
import { useTRPC } from "@/lib/trpc";
import { CreatePreview } from "./create-preview";

type ProfileOption = {
  id: string;
  name: string;
  description: string | null;
  ttl: { defaultSeconds: number; maxSeconds: number };
  resources: { vcpu: number; memoryMiB: number; gpu: number; gpuType: string | null };
};

/** Waits until typing pauses before asking for a new estimate. */
function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function CreateSandboxForm({
  profiles,
  initialProfile,
}: {
  profiles: ProfileOption[];
  initialProfile?: string;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [profileId, setProfileId] = useState(initialProfile ?? profiles[0]?.id ?? "");
  const profile = profiles.find((p) => p.id === profileId);
  const [ttlText, setTtlText] = useState(String(profile?.ttl.defaultSeconds ?? 300));
  const [submitError, setSubmitError] = useState<SafeError | null>(null);
  // One key per form: a double click or a retried request returns the same sandbox instead of
  // creating another (the server keeps the first sandbox made with a key).
  const [idempotencyKey] = useState(() => crypto.randomUUID());
  // From the first submit until the new sandbox's page replaces this one: the create call
  // returning is not the end, the navigation is. A ref, because two clicks can land before React
  // re-renders the disabled button.
  const submitting = useRef(false);
  const [navigating, setNavigating] = useState(false);
  const { can } = useConsole();

  const ttlNumber = /^\s*\d+\s*$/.test(ttlText) ? Number(ttlText) : NaN; // digits only: not 1e3, 0x10
  // The profile's maximum is known here; a number far past it (20 digits) would otherwise come
  // back from the server rounded ("TTL 100000000000000000000s") and the hint as billions of hours.
  // Lower limits of the extension routing picks are still the server's to say.
  const ttlLocalError =
    !Number.isInteger(ttlNumber) || ttlNumber <= 0
      ? "Enter a whole number of seconds above 0."
      : profile && ttlNumber > profile.ttl.maxSeconds
        ? `Enter at most ${profile.ttl.maxSeconds} seconds (${formatDuration(profile.ttl.maxSeconds)}) for this profile.`
        : undefined;
  const previewInput = useDebounced({ profile: profileId, ttlSeconds: ttlNumber }, 250);
  // Only ask for the estimate of what is in the form now: never for a value typed a moment ago
  // (which may have been invalid), and never for an invalid one.
  const previewCurrent =
    previewInput.profile === profileId && previewInput.ttlSeconds === ttlNumber;
  const preview = useQuery(
    trpc.sandboxes.preview.queryOptions(previewInput, {
      enabled: Boolean(profileId) && !ttlLocalError && previewCurrent,
      retry: false,
    }),
  );
  const balance = useQuery(trpc.credits.balance.queryOptions());
  const create = useMutation(trpc.sandboxes.create.mutationOptions());
  // The hold of the estimate on screen against what the team has: short means the server would
  // refuse, so Create is disabled with the reason instead.
  const afterHold =
    previewCurrent && preview.data && balance.data
      ? subtractMicros(balance.data.availableMicros, preview.data.holdMicros)
      : null;
  const shortOfCredits = afterHold !== null && afterHold.startsWith("-");
  const pending = create.isPending || navigating;

  const previewError = preview.isError ? toSafeError(preview.error) : null;
  // Routing already says nothing can run it: submitting would only be refused.
  const noProvider = Boolean(previewCurrent && preview.data && !preview.data.chosenExtensionId);
  // A submit error wins; then what the form itself can tell (shown as soon as it is typed);
  // otherwise the live preview's verdict on the same field.
  const ttlError =
    fieldError(submitError, "ttlSeconds") ??
    ttlLocalError ??
    (previewCurrent ? fieldError(previewError, "ttlSeconds") : undefined);
  const profileError = fieldError(submitError, "profile") ?? fieldError(previewError, "profile");
  const formError =
    submitError && !fieldError(submitError, "ttlSeconds") && !fieldError(submitError, "profile")
      ? submitError.message
      : null;

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (submitting.current) return;
    setSubmitError(null);
    if (ttlLocalError) {
      setSubmitError({
        message: ttlLocalError,
        code: "BAD_REQUEST",
        field: "ttlSeconds",
        fieldErrors: {},
      });
      return;
    }
    submitting.current = true;
    try {
      // Limits (e.g. the profile's maximum TTL) are the server's to judge: it says which field.
      const created = await create.mutateAsync({
        profile: profileId,
        ttlSeconds: ttlNumber,
        idempotencyKey,
      });
      // Stays pending until the sandbox's page replaces this form (which unmounts it).
      setNavigating(true);
      await queryClient.invalidateQueries({ queryKey: trpc.sandboxes.list.queryKey() });
      await queryClient.invalidateQueries({ queryKey: trpc.credits.pathKey() });
      router.push(`/sandboxes/${created.id}`);
    } catch (err) {
      submitting.current = false;
      setSubmitError(toSafeError(err));
    }
  }

  return (
    <form
      onSubmit={onSubmit}
      noValidate
      className="grid gap-6 lg:grid-cols-[minmax(0,22rem)_1fr]"
      aria-label="Create a sandbox"
    >
      <Card className="h-fit">
        <CardHeader>
          <CardTitle>Request</CardTitle>
          <CardDescription>Nothing is held or created until you submit.</CardDescription>
        </CardHeader>
        <CardContent className="grid gap-4">
          {formError ? <Alert variant="destructive">{formError}</Alert> : null}
          <Field label="Profile" error={profileError} hint={profile?.description ?? undefined}>
            <NativeSelect
              name="profile"
              value={profileId}
              onChange={(e) => {
                setProfileId(e.target.value);
                setSubmitError(null);
                const next = profiles.find((p) => p.id === e.target.value);
                if (next) setTtlText(String(next.ttl.defaultSeconds));
              }}
            >
              {profiles.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.id})
                </option>
              ))}
            </NativeSelect>
          </Field>
          <Field
            label="Time to live (seconds)"
            error={ttlError}
            hint={
              profile
                ? `${ttlLocalError ? "" : `${formatDuration(ttlNumber)}. `}Default ${profile.ttl.defaultSeconds}s, maximum ${profile.ttl.maxSeconds}s (${formatDuration(profile.ttl.maxSeconds)}).`
                : undefined
            }
          >
            <Input
              name="ttlSeconds"
              inputMode="numeric"
              value={ttlText}
              onChange={(e) => {
                setTtlText(e.target.value);
                setSubmitError(null);
              }}
            />
          </Field>
          {profile ? (
            <p className="text-xs text-muted-foreground">
              {profile.resources.vcpu} vCPU · {formatMemory(profile.resources.memoryMiB)}
              {profile.resources.gpu > 0
                ? ` · ${profile.resources.gpu}× ${profile.resources.gpuType}`
                : ""}
            </p>
          ) : null}
          <Button
            type="submit"
            disabled={pending || !profileId || noProvider || shortOfCredits}
            aria-describedby={shortOfCredits || noProvider ? "create-blocked" : undefined}
          >
            {pending ? "Creating…" : "Create sandbox"}
          </Button>
          {noProvider ? (
            <p id="create-blocked" className="text-xs text-muted-foreground" role="status">
              No provider on this profile&apos;s route can take it right now; see why beside.
            </p>
          ) : shortOfCredits ? (
            <p id="create-blocked" className="text-xs text-muted-foreground" role="status">
              Not enough credits for this hold.{" "}
              {can.admin ? (
                <>
                  <Link href="/credits" className="font-medium text-foreground underline">
                    Top up on Credits
                  </Link>{" "}
                  or choose a shorter TTL.
                </>
              ) : (
                "Ask an owner or admin to top up, or choose a shorter TTL."
              )}
            </p>
          ) : null}
        </CardContent>
      </Card>
      <CreatePreview
        preview={preview}
        balance={balance}
        hasInputError={Boolean(ttlError || profileError)}
        canTopUp={can.admin}
      />
    </form>
  );
}
