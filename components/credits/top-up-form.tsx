"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { fieldError, toSafeError, type SafeError } from "@/lib/errors";
import { formatDollarsInput, formatMoney } from "@/lib/format";
import { useTRPC } from "@/lib/trpc";

const newKey = () => crypto.randomUUID();

/** Admins only. One idempotency key per intended top-up, so a double click or retry pays once. */
export function TopUpForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [key, setKey] = useState(newKey);
  const [amount, setAmount] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState<SafeError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const topUp = useMutation(trpc.credits.topUp.mutationOptions());

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setDone(null);
    try {
      const res = await topUp.mutateAsync({
        amount: amount.trim(),
        note: note.trim() || undefined,
        idempotencyKey: key,
      });
      const added = formatDollarsInput(amount) ?? `$${amount.trim().replace(/^\$/, "")}`;
      setDone(`Added ${added}. Balance is now ${formatMoney(res.balanceMicros)}.`);
      setAmount("");
      setNote("");
      setKey(newKey());
      await queryClient.invalidateQueries({ queryKey: trpc.credits.pathKey() });
    } catch (err) {
      setError(toSafeError(err));
    }
  }

  const amountError = fieldError(error, "amount");
  return (
    <Card>
      <CardHeader>
        <CardTitle>Top up</CardTitle>
        <CardDescription>
          Add credits to the team. Amounts are in US dollars, up to 6 decimal places.
        </CardDescription>
      </CardHeader>
      <CardContent>
        <form
          onSubmit={onSubmit}
          noValidate
          className="grid items-start gap-4 sm:grid-cols-[12rem_1fr_auto]"
        >
          <Field label="Amount (USD)" error={amountError}>
            <Input
              name="amount"
              inputMode="decimal"
              placeholder="25.00"
              value={amount}
              onChange={(e) => {
                setAmount(e.target.value);
                setKey(newKey()); // a different amount is a different top-up
              }}
            />
          </Field>
          <Field label="Note (optional)">
            <Input
              name="note"
              maxLength={200}
              value={note}
              onChange={(e) => setNote(e.target.value)}
              placeholder="e.g. invoice 2026-12"
            />
          </Field>
          <Button type="submit" className="sm:mt-6" disabled={topUp.isPending || !amount.trim()}>
            {topUp.isPending ? "Adding…" : "Add credits"}
          </Button>
        </form>
        {error && !amountError ? (
          <Alert variant="destructive" className="mt-3">
            {error.message}
          </Alert>
        ) : null}
        {done ? (
          <Alert variant="success" className="mt-3">
            {done}
          </Alert>
        ) : null}
      </CardContent>
    </Card>
  );
}
