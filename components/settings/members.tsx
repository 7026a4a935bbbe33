"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { UserPlus } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useConsole } from "@/components/console/console-context";
import { ErrorState, LoadingRows } from "@/components/console/states";
import { Alert } from "@/components/ui/alert";
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

const ROLES = [
  { id: "owner", help: "everything, including owners" },
  { id: "admin", help: "everything: sandboxes, credits, members, keys" },
  { id: "member", help: "creates and manages sandboxes" },
  { id: "finance", help: "reads usage, credits and exports; cannot create or destroy" },
] as const;
type Role = (typeof ROLES)[number]["id"];

export function Members() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { can, role: myRole, user } = useConsole();
  const members = useQuery(trpc.teams.members.list.queryOptions());
  const invalidate = () =>
    queryClient.invalidateQueries({ queryKey: trpc.teams.members.list.queryKey() });
  const add = useMutation(trpc.teams.members.add.mutationOptions({ onSuccess: invalidate }));
  const setRole = useMutation(
    trpc.teams.members.setRole.mutationOptions({ onSettled: invalidate }),
  );
  const remove = useMutation(trpc.teams.members.remove.mutationOptions({ onSettled: invalidate }));
  const [email, setEmail] = useState("");
  const [newRole, setNewRole] = useState<Role>("member");
  const [addError, setAddError] = useState<SafeError | null>(null);
  const [rowError, setRowError] = useState<string | null>(null);
  // What the last change in the table did, said where it happened (a role select saves at once).
  const [rowDone, setRowDone] = useState<string | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  // Only an owner hands out the owner role; the server enforces the same rule.
  const grantable = ROLES.filter((r) => r.id !== "owner" || myRole === "owner");

  async function onAdd(e: FormEvent) {
    e.preventDefault();
    setAddError(null);
    setAdded(null);
    try {
      await add.mutateAsync({ email: email.trim(), role: newRole });
      setAdded(`${email.trim()} was added as ${newRole}.`);
      setEmail("");
    } catch (err) {
      setAddError(toSafeError(err));
    }
  }

  return (
    <div className="grid gap-6">
      {can.admin ? (
        <Card>
          <CardHeader>
            <CardTitle>Add a member</CardTitle>
            <CardDescription>
              They need an account first: ask them to sign up, then add their email here.
            </CardDescription>
          </CardHeader>
          <CardContent className="grid gap-3">
            <form onSubmit={onAdd} noValidate className="flex flex-wrap items-start gap-3">
              <Field label="Email" error={fieldError(addError, "email")} className="w-72">
                <Input
                  type="email"
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                  autoComplete="off"
                />
              </Field>
              <Field label="Role" error={fieldError(addError, "role")} className="w-40">
                <NativeSelect value={newRole} onChange={(e) => setNewRole(e.target.value as Role)}>
                  {grantable.map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.id}
                    </option>
                  ))}
                </NativeSelect>
              </Field>
              <Button type="submit" className="sm:mt-6" disabled={add.isPending || !email.trim()}>
                <UserPlus aria-hidden /> {add.isPending ? "Adding…" : "Add member"}
              </Button>
            </form>
            {addError && !fieldError(addError, "email") && !fieldError(addError, "role") ? (
              <Alert variant="destructive">{addError.message}</Alert>
            ) : null}
            {added ? <Alert variant="success">{added}</Alert> : null}
          </CardContent>
        </Card>
      ) : null}
      <Card>
        <CardHeader>
          <CardTitle>Members</CardTitle>
          <CardDescription>
            {ROLES.map((r) => (
              <span key={r.id} className="mr-3 inline-block">
                <strong className="font-medium text-foreground">{r.id}</strong>: {r.help}
              </span>
            ))}
          </CardDescription>
        </CardHeader>
        <CardContent className="grid gap-3">
          {rowError ? <Alert variant="destructive">{rowError}</Alert> : null}
          {rowDone ? (
            <Alert variant="success" data-testid="member-change">
              {rowDone}
            </Alert>
          ) : null}
          {members.isError ? (
            <ErrorState
              error={members.error}
              onRetry={() => void members.refetch()}
              title="Could not load members"
            />
          ) : members.isPending ? (
            <LoadingRows rows={3} label="Loading members" />
          ) : (
            <Table aria-label="Members">
              <TableHeader>
                <TableRow>
                  <TableHead>Name</TableHead>
                  <TableHead>Email</TableHead>
                  <TableHead>Role</TableHead>
                  <TableHead>Joined</TableHead>
                  {can.admin ? (
                    <TableHead>
                      <span className="sr-only">Actions</span>
                    </TableHead>
                  ) : null}
                </TableRow>
              </TableHeader>
              <TableBody>
                {members.data.map((m) => {
                  const self = m.userId === user.id;
                  const editable = can.admin && !self && (m.role !== "owner" || myRole === "owner");
                  return (
                    <TableRow key={m.id}>
                      <TableCell className="font-medium">
                        {m.name} {self ? <Badge variant="outline">you</Badge> : null}
                      </TableCell>
                      <TableCell className="text-xs">{m.email}</TableCell>
                      <TableCell>
                        {editable ? (
                          <NativeSelect
                            aria-label={`Role of ${m.email}`}
                            className="h-8 w-32"
                            value={m.role}
                            disabled={setRole.isPending}
                            onChange={(e) => {
                              const role = e.target.value as Role;
                              setRowError(null);
                              setRowDone(null);
                              setRole.mutate(
                                { memberId: m.id, role },
                                {
                                  onSuccess: () =>
                                    setRowDone(`${m.name || m.email} is now ${role}.`),
                                  onError: (err) => setRowError(toSafeError(err).message),
                                },
                              );
                            }}
                          >
                            {grantable.map((r) => (
                              <option key={r.id} value={r.id}>
                                {r.id}
                              </option>
                            ))}
                          </NativeSelect>
                        ) : (
                          <Badge variant="secondary">{m.role}</Badge>
                        )}
                      </TableCell>
                      <TableCell className="text-xs">{formatTime(m.joinedAt)}</TableCell>
                      {can.admin ? (
                        <TableCell className="text-right">
                          {editable ? (
                            <AlertDialog>
                              <AlertDialogTrigger asChild>
                                <Button
                                  variant="outline"
                                  size="sm"
                                  aria-label={`Remove ${m.email}`}
                                >
                                  Remove
                                </Button>
                              </AlertDialogTrigger>
                              <AlertDialogContent>
                                <AlertDialogHeader>
                                  <AlertDialogTitle>Remove {m.name || m.email}?</AlertDialogTitle>
                                  <AlertDialogDescription>
                                    They lose access to this team at once, and so do their API keys
                                    for it.
                                  </AlertDialogDescription>
                                </AlertDialogHeader>
                                <AlertDialogFooter>
                                  <AlertDialogCancel>Cancel</AlertDialogCancel>
                                  <AlertDialogAction
                                    onClick={() => {
                                      setRowError(null);
                                      setRowDone(null);
                                      remove.mutate(
                                        { memberId: m.id },
                                        {
                                          onSuccess: () =>
                                            setRowDone(
                                              `${m.name || m.email} was removed from the team.`,
                                            ),
                                          onError: (err) => setRowError(toSafeError(err).message),
                                        },
                                      );
                                    }}
                                  >
                                    Remove
                                  </AlertDialogAction>
                                </AlertDialogFooter>
                              </AlertDialogContent>
                            </AlertDialog>
                          ) : null}
                        </TableCell>
                      ) : null}
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
