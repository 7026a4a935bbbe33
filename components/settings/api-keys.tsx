"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, KeyRound } from "lucide-react";
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
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
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

/** The new key lives only in this component's state until dismissed; it is never fetched again. */
function NewKey({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <Alert variant="success" className="grid gap-2">
      <AlertTitle>Key “{name}” created — copy it now</AlertTitle>
      <AlertDescription className="grid gap-2">
        <p>
          This is the only time it is shown. Only a hash is stored, so it cannot be shown again.
        </p>
        <div className="flex gap-2">
          <Input
            readOnly
            value={secret}
            aria-label="New API key"
            className="font-mono text-xs"
            onFocus={(e) => e.currentTarget.select()}
            data-testid="new-api-key"
          />
          <Button
            variant="outline"
            onClick={async () => {
              await navigator.clipboard?.writeText(secret).catch(() => undefined);
              setCopied(true);
            }}
          >
            <Copy aria-hidden /> {copied ? "Copied" : "Copy"}
          </Button>
        </div>
        <p className="text-xs text-muted-foreground">
          Use it as <code>Authorization: Bearer …</code> or <code>SANDBOXER_API_KEY</code> for the
          CLI.
        </p>
        <div>
          <Button size="sm" onClick={onDone}>
            I have saved it
          </Button>
        </div>
      </AlertDescription>
    </Alert>
  );
}

export function ApiKeys() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { can, user } = useConsole();
  const keys = useQuery(trpc.apiKeys.list.queryOptions());
  const create = useMutation(trpc.apiKeys.create.mutationOptions());
  const revoke = useMutation(
    trpc.apiKeys.revoke.mutationOptions({
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() }),
    }),
  );
  const [name, setName] = useState("");
  const [error, setError] = useState<SafeError | null>(null);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [revokeError, setRevokeError] = useState<string | null>(null);

  async function onCreate(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const res = await create.mutateAsync({ name });
      setCreated({ name: name.trim(), key: res.key });
      setName("");
      await queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() });
    } catch (err) {
      setError(toSafeError(err));
    }
  }

  return (
    <div className="grid gap-6">
      <Card>
        <CardHeader>
          <CardTitle>Create an API key</CardTitle>
          <CardDescription>
            A key acts as you, in this team, with your role. Programs and the CLI use it.
          </CardDescription>
        </CardHeader>
        <CardContent className="grid gap-4">
          {created ? (
            <NewKey name={created.name} secret={created.key} onDone={() => setCreated(null)} />
          ) : null}
          <form onSubmit={onCreate} noValidate className="flex flex-wrap items-start gap-3">
            <Field label="Key name" error={fieldError(error, "name")} className="w-72">
              <Input
                value={name}
                onChange={(e) => setName(e.target.value)}
                maxLength={60}
                placeholder="e.g. ci-pipeline"
              />
            </Field>
            <Button type="submit" className="sm:mt-6" disabled={create.isPending}>
              <KeyRound aria-hidden /> {create.isPending ? "Creating…" : "Create key"}
            </Button>
          </form>
          {error && !fieldError(error, "name") ? (
            <Alert variant="destructive">{error.message}</Alert>
          ) : null}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>{can.admin ? "Team keys" : "Your keys"}</CardTitle>
          <CardDescription>
            {can.admin
              ? "Every key in this team. As an admin you can revoke any of them."
              : "Keys you created in this team."}
          </CardDescription>
        </CardHeader>
        <CardContent className="grid gap-3">
          {revokeError ? <Alert variant="destructive">{revokeError}</Alert> : null}
          {keys.isError ? (
            <ErrorState
              error={keys.error}
              onRetry={() => void keys.refetch()}
              title="Could not load API keys"
            />
          ) : keys.isPending ? (
            <LoadingRows rows={2} label="Loading API keys" />
          ) : keys.data.length === 0 ? (
            <EmptyState title="No API keys yet">
              Create one above to use the API or the CLI.
            </EmptyState>
          ) : (
            <Table aria-label="API keys">
              <TableHeader>
                <TableRow>
                  <TableHead>Name</TableHead>
                  <TableHead>Key · created</TableHead>
                  <TableHead>Owner</TableHead>
                  <TableHead>Last used</TableHead>
                  <TableHead>
                    <span className="sr-only">Actions</span>
                  </TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {keys.data.map((k) => (
                  <TableRow key={k.id}>
                    <TableCell className="font-medium">{k.name ?? "(unnamed)"}</TableCell>
                    {/* Only the key's first characters are stored (`start`: the sbxk_ prefix and
                        one more), so two keys can begin alike; with the time it was created the
                        line tells them apart. */}
                    <TableCell className="text-xs" data-testid="api-key-start">
                      <span className="font-mono">{k.start ? `${k.start}…` : "—"}</span>
                      <span className="text-muted-foreground"> · {formatTime(k.createdAt)}</span>
                    </TableCell>
                    <TableCell className="text-xs">
                      {k.ownerId === user.id ? "you" : (k.ownerEmail ?? "—")}
                    </TableCell>
                    <TableCell className="text-xs">
                      {k.lastRequest ? formatTime(k.lastRequest) : "never"}
                    </TableCell>
                    <TableCell className="text-right">
                      <AlertDialog>
                        <AlertDialogTrigger asChild>
                          <Button
                            variant="outline"
                            size="sm"
                            aria-label={`Revoke ${k.name ?? "key"}`}
                          >
                            Revoke
                          </Button>
                        </AlertDialogTrigger>
                        <AlertDialogContent>
                          <AlertDialogHeader>
                            <AlertDialogTitle>Revoke “{k.name ?? "key"}”?</AlertDialogTitle>
                            <AlertDialogDescription>
                              Programs using this key stop working at once. This cannot be undone.
                            </AlertDialogDescription>
                          </AlertDialogHeader>
                          <AlertDialogFooter>
                            <AlertDialogCancel>Keep it</AlertDialogCancel>
                            <AlertDialogAction
                              onClick={() => {
                                setRevokeError(null);
                                revoke.mutate(
                                  { id: k.id },
                                  { onError: (err) => setRevokeError(toSafeError(err).message) },
                                );
                              }}
                            >
                              Revoke key
                            </AlertDialogAction>
                          </AlertDialogFooter>
                        </AlertDialogContent>
                      </AlertDialog>
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
