"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { CheckCircle2, KeyRound, RefreshCw, XCircle } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useConsole } from "@/components/console/console-context";
import { EmptyState, ErrorState, LoadingRows } from "@/components/console/states";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
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
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input, NativeSelect } from "@/components/ui/input";
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from "@/components/ui/table";
import { fieldError, toSafeError, type SafeError } from "@/lib/errors";
import { formatTime } from "@/lib/format";
import { useTRPC } from "@/lib/trpc";
import type { AppRouter } from "@/server/trpc/root";

type Out = inferRouterOutputs<AppRouter>["credentials"];
type Ext = Out["list"][number];
type Check = Out["check"];

/** The grammar of a secret reference, per scheme; only the schemes the operator allows are offered. */
const SCHEMES: Record<string, { form: string; example: string; what: string }> = {
  openbao: {
    form: "openbao://mount/path#field",
    example: "openbao://secret/teams/acme/e2b#api_key",
    what: "field “field” of the KV v2 secret “path” on mount “mount” in your OpenBao or Vault",
  },
  env: {
    form: "env:NAME",
    example: "env:ACME_E2B_API_KEY",
    what: "an environment variable of Sandboxer's workers",
  },
  file: {
    form: "file:/absolute/path",
    example: "file:/run/secrets/acme-e2b",
    what: "a file on Sandboxer's workers (one trailing newline removed)",
  },
};

function StatusBadge({ resolves }: { resolves: boolean }) {
  return resolves ? (
    <Badge variant="success" data-testid="credential-status">
      <CheckCircle2 className="size-3" aria-hidden /> resolves
    </Badge>
  ) : (
    <Badge variant="destructive" data-testid="credential-status">
      <XCircle className="size-3" aria-hidden /> does not resolve
    </Badge>
  );
}

function Grammar({ allowed }: { allowed: string[] }) {
  const shown = allowed.filter((s) => SCHEMES[s]);
  const refused = Object.keys(SCHEMES).filter((s) => !allowed.includes(s));
  return (
    <div className="grid gap-2 text-sm" data-testid="reference-grammar">
      <p className="text-muted-foreground">
        A reference says where the key lives, never the key itself. This deployment accepts:
      </p>
      <ul className="grid gap-1.5">
        {shown.map((s) => (
          <li key={s} className="grid gap-0.5">
            <code className="w-fit rounded bg-muted px-1.5 py-0.5 font-mono text-xs">
              {SCHEMES[s]!.form}
            </code>
            <span className="text-xs text-muted-foreground">
              {SCHEMES[s]!.what}, e.g. <span className="font-mono">{SCHEMES[s]!.example}</span>
            </span>
          </li>
        ))}
      </ul>
      {refused.length > 0 ? (
        <p className="text-xs text-muted-foreground">
          {refused.map((s) => `${s}:`).join(" and ")} references name things on Sandboxer&apos;s own
          machines, so team keys may use them only where the operator allows it
          (SANDBOXER_BYOK_SCHEMES); here they are refused.
        </p>
      ) : null}
    </div>
  );
}

/** The admin's form: bind a reference for one credential field of one extension. */
function BindForm({ extensions, allowed }: { extensions: Ext[]; allowed: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [extensionId, setExtensionId] = useState(extensions[0]?.extensionId ?? "");
  const ext = extensions.find((x) => x.extensionId === extensionId);
  const [field, setField] = useState(ext?.fields[0]?.field ?? "");
  const [secretRef, setSecretRef] = useState("");
  const [error, setError] = useState<SafeError | null>(null);
  const [result, setResult] = useState<(Check & { field: string; name: string }) | null>(null);
  const bind = useMutation(trpc.credentials.bind.mutationOptions());

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setResult(null);
    try {
      const res = await bind.mutateAsync({ extensionId, field, secretRef: secretRef.trim() });
      setResult({ ...res, field, name: ext?.name ?? extensionId });
      setSecretRef("");
    } catch (err) {
      setError(toSafeError(err));
    } finally {
      await queryClient.invalidateQueries({ queryKey: trpc.credentials.list.queryKey() });
      await queryClient.invalidateQueries({ queryKey: trpc.registry.list.queryKey() });
    }
  }

  const known = ["extensionId", "field", "secretRef"];
  const other = error && !known.some((f) => fieldError(error, f)) ? error.message : null;
  const example = SCHEMES[allowed[0] ?? "openbao"]?.example ?? SCHEMES.openbao!.example;

  return (
    <Card>
      <CardHeader>
        <CardTitle>Bind a team key</CardTitle>
        <CardDescription>
          Your team&apos;s reference takes precedence over the platform default, field by field. The
          key is read when a sandbox is provisioned, extended or torn down, and never stored or
          shown.
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <form onSubmit={onSubmit} noValidate className="grid content-start gap-3">
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Extension" error={fieldError(error, "extensionId")}>
              <NativeSelect
                value={extensionId}
                onChange={(e) => {
                  const next = extensions.find((x) => x.extensionId === e.target.value);
                  setExtensionId(e.target.value);
                  setField(next?.fields[0]?.field ?? "");
                }}
              >
                {extensions.map((x) => (
                  <option key={x.extensionId} value={x.extensionId}>
                    {x.name} ({x.extensionId})
                  </option>
                ))}
              </NativeSelect>
            </Field>
            <Field label="Credential field" error={fieldError(error, "field")}>
              <NativeSelect value={field} onChange={(e) => setField(e.target.value)}>
                {(ext?.fields ?? []).map((f) => (
                  <option key={f.field} value={f.field}>
                    {f.field}
                  </option>
                ))}
              </NativeSelect>
            </Field>
          </div>
          <Field
            label="Secret reference"
            hint={`Where the key lives, e.g. ${example}`}
            error={fieldError(error, "secretRef")}
          >
            <Input
              value={secretRef}
              onChange={(e) => setSecretRef(e.target.value)}
              placeholder={example}
              autoComplete="off"
              spellCheck={false}
              maxLength={500}
              className="font-mono text-xs"
            />
          </Field>
          <div>
            <Button type="submit" disabled={bind.isPending || !secretRef.trim() || !field}>
              <KeyRound aria-hidden /> {bind.isPending ? "Binding…" : "Bind reference"}
            </Button>
          </div>
          {other ? <Alert variant="destructive">{other}</Alert> : null}
          {result ? (
            <Alert variant={result.resolves ? "success" : "destructive"}>
              <AlertTitle>
                Bound {result.field} for {result.name}:{" "}
                {result.resolves ? "it resolves." : "it does not resolve yet."}
              </AlertTitle>
              {result.reason ? <AlertDescription>{result.reason}</AlertDescription> : null}
            </Alert>
          ) : null}
        </form>
        <div className="rounded-lg border bg-muted/30 p-4">
          <Grammar allowed={allowed} />
        </div>
      </CardContent>
    </Card>
  );
}

function ExtensionCard({ ext, admin }: { ext: Ext; admin: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [checking, setChecking] = useState(false);
  const [checkedAt, setCheckedAt] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const remove = useMutation(
    trpc.credentials.remove.mutationOptions({
      onSettled: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.credentials.list.queryKey() });
        await queryClient.invalidateQueries({ queryKey: trpc.registry.list.queryKey() });
      },
    }),
  );

  /** Resolves the team's effective references now and puts the answer into the list. */
  async function check() {
    setChecking(true);
    setError(null);
    try {
      const res = await queryClient.fetchQuery({
        ...trpc.credentials.check.queryOptions({ extensionId: ext.extensionId }),
        staleTime: 0,
      });
      queryClient.setQueryData(trpc.credentials.list.queryKey(), (list) =>
        list?.map((x) => (x.extensionId === res.extensionId ? { ...x, ...res } : x)),
      );
      setCheckedAt(formatTime(new Date().toISOString()));
    } catch (err) {
      setError(toSafeError(err).message);
    } finally {
      setChecking(false);
    }
  }

  return (
    <Card aria-label={ext.name} data-extension={ext.extensionId} data-resolves={ext.resolves}>
      <CardHeader>
        <div className="flex flex-wrap items-start justify-between gap-3">
          <div className="grid gap-1">
            <CardTitle>{ext.name}</CardTitle>
            <CardDescription className="font-mono text-xs">{ext.extensionId}</CardDescription>
          </div>
          <div className="flex items-center gap-2">
            <StatusBadge resolves={ext.resolves} />
            <Button
              variant="outline"
              size="sm"
              onClick={() => void check()}
              disabled={checking}
              aria-label={`Check ${ext.name}`}
            >
              <RefreshCw aria-hidden className={checking ? "animate-spin" : undefined} />
              {checking ? "Checking…" : "Check"}
            </Button>
          </div>
        </div>
        <p className="text-sm" data-testid="credential-source">
          {ext.source === "team"
            ? "Uses your team's key."
            : "Uses the platform default: no key of your team's is bound."}
          {checkedAt ? (
            <span className="ml-2 text-xs text-muted-foreground" data-testid="checked-at">
              Checked at {checkedAt}.
            </span>
          ) : null}
        </p>
        {ext.reason ? (
          <p
            className="text-xs text-destructive [overflow-wrap:anywhere]"
            data-testid="credential-reason"
          >
            {ext.reason}
          </p>
        ) : null}
        {error ? (
          <p role="alert" className="text-xs font-medium text-destructive">
            {error}
          </p>
        ) : null}
      </CardHeader>
      <CardContent>
        <Table aria-label={`References of ${ext.extensionId}`}>
          <TableHeader>
            <TableRow>
              <TableHead>Field</TableHead>
              <TableHead>Platform default</TableHead>
              <TableHead>Your team&apos;s reference</TableHead>
              {admin ? (
                <TableHead>
                  <span className="sr-only">Actions</span>
                </TableHead>
              ) : null}
            </TableRow>
          </TableHeader>
          <TableBody>
            {ext.fields.map((f) => (
              <TableRow key={f.field} data-field={f.field}>
                <TableCell className="font-mono text-xs font-medium">{f.field}</TableCell>
                <TableCell className="font-mono text-xs">
                  <span className={f.teamRef ? "text-muted-foreground line-through" : undefined}>
                    {f.platformRef}
                  </span>
                  {f.teamRef ? null : (
                    <Badge variant="outline" className="ml-2">
                      in use
                    </Badge>
                  )}
                </TableCell>
                <TableCell className="font-mono text-xs whitespace-normal [overflow-wrap:anywhere]">
                  {f.teamRef ? (
                    <>
                      <span data-testid="team-ref">{f.teamRef}</span>
                      <Badge variant="outline" className="ml-2">
                        in use
                      </Badge>
                    </>
                  ) : (
                    <span className="text-muted-foreground">none</span>
                  )}
                </TableCell>
                {admin ? (
                  <TableCell className="text-right">
                    {f.teamRef ? (
                      <AlertDialog>
                        <AlertDialogTrigger asChild>
                          <Button
                            variant="outline"
                            size="sm"
                            aria-label={`Remove ${f.field} of ${ext.extensionId}`}
                            disabled={remove.isPending}
                          >
                            Remove
                          </Button>
                        </AlertDialogTrigger>
                        <AlertDialogContent>
                          <AlertDialogHeader>
                            <AlertDialogTitle>
                              Remove your team&apos;s {f.field} for {ext.name}?
                            </AlertDialogTitle>
                            <AlertDialogDescription>
                              From the next provision {ext.extensionId} uses the platform default (
                              <span className="font-mono">{f.platformRef}</span>) again. The secret
                              itself stays where it is in your store.
                            </AlertDialogDescription>
                          </AlertDialogHeader>
                          <AlertDialogFooter>
                            <AlertDialogCancel>Keep it</AlertDialogCancel>
                            <AlertDialogAction
                              onClick={() => {
                                setError(null);
                                remove.mutate(
                                  { extensionId: ext.extensionId, field: f.field },
                                  { onError: (err) => setError(toSafeError(err).message) },
                                );
                              }}
                            >
                              Remove reference
                            </AlertDialogAction>
                          </AlertDialogFooter>
                        </AlertDialogContent>
                      </AlertDialog>
                    ) : null}
                  </TableCell>
                ) : null}
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </CardContent>
    </Card>
  );
}

/**
 * BYOK: per extension with credential fields, the platform default and the team's own secret
 * reference, and whether the effective credentials resolve now (never their values). Owners
 * and admins bind and remove references; everyone else reads.
 */
export function ProviderKeys() {
  const trpc = useTRPC();
  const { can } = useConsole();
  const list = useQuery(trpc.credentials.list.queryOptions());
  const schemes = useQuery(
    trpc.credentials.schemes.queryOptions(undefined, { staleTime: Infinity }),
  );

  if (list.isError || schemes.isError)
    return (
      <ErrorState
        error={list.error ?? schemes.error}
        onRetry={() => void Promise.all([list.refetch(), schemes.refetch()])}
        title="Could not load provider keys"
      />
    );
  if (list.isPending || schemes.isPending)
    return <LoadingRows rows={4} label="Loading provider keys" />;
  if (list.data.length === 0)
    return (
      <EmptyState title="No extension needs a key">
        Every extension in this deployment runs without provider credentials.
      </EmptyState>
    );

  return (
    <div className="grid gap-6">
      {can.admin ? (
        <BindForm extensions={list.data} allowed={schemes.data.allowed} />
      ) : (
        <Alert data-testid="provider-keys-read-only">
          <AlertTitle>Read-only</AlertTitle>
          <AlertDescription className="grid gap-2">
            <p>
              Only owners and admins can bind or remove provider keys. You can see which references
              are in use and check whether they resolve.
            </p>
          </AlertDescription>
        </Alert>
      )}
      <div className="grid gap-4">
        {list.data.map((x) => (
          <ExtensionCard key={x.extensionId} ext={x} admin={can.admin} />
        ))}
      </div>
    </div>
  );
}
