"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { authClient } from "@/lib/auth-client";
import { checkSignUp, fieldOfAuthError, PASSWORD_LIMITS } from "@/lib/identity-limits";
import { safeNext } from "@/lib/safe-next";

type Mode = "sign-in" | "sign-up";
type Errors = { name?: string; email?: string; password?: string; form?: string };

/** Better Auth error codes mapped to sentences; anything else gets a generic one. */
function messageFor(
  mode: Mode,
  err: { status?: number; code?: string; message?: string } | null,
): Errors {
  switch (err?.code) {
    case "INVALID_EMAIL_OR_PASSWORD":
      return { form: "Email or password is incorrect." };
    case "USER_ALREADY_EXISTS":
    case "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL":
      return { email: "An account with this email already exists. Sign in instead." };
    case "INVALID_EMAIL":
      return { email: "Enter a valid email address." };
    case "PASSWORD_TOO_SHORT":
      return { password: "Use at least 8 characters." };
    case "PASSWORD_TOO_LONG":
      return { password: `Use at most ${PASSWORD_LIMITS.max} characters.` };
    case "INVALID_INPUT": {
      // The app's own rules (length, control characters) name the field they refuse.
      const field = fieldOfAuthError(err.message);
      if (field) return field;
    }
  }
  if (err?.status === 429) return { form: "Too many attempts. Wait a minute and try again." };
  if (mode === "sign-in" && err?.status === 401) return { form: "Email or password is incorrect." };
  return { form: "Something went wrong. Please try again." };
}

export function AuthForm({ mode, next }: { mode: Mode; next?: string }) {
  const router = useRouter();
  const [errors, setErrors] = useState<Errors>({});
  const [pending, setPending] = useState(false);

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const email = String(form.get("email") ?? "").trim();
    const password = String(form.get("password") ?? "");
    const name = String(form.get("name") ?? "").trim();
    const local: Errors = mode === "sign-up" ? checkSignUp({ name, email, password }) : {};
    if (mode === "sign-in" && !/^\S+@\S+\.\S+$/.test(email))
      local.email = "Enter a valid email address.";
    if (mode === "sign-in" && !password) local.password = "Enter your password.";
    setErrors(local);
    if (Object.keys(local).length > 0) return;

    setPending(true);
    const res =
      mode === "sign-in"
        ? await authClient.signIn.email({ email, password }).catch(() => null)
        : await authClient.signUp.email({ email, password, name }).catch(() => null);
    if (!res || res.error) {
      setErrors(messageFor(mode, res?.error ?? null));
      setPending(false);
      return;
    }
    // New accounts have no team yet; the console layout sends them on to create or join one.
    router.replace(mode === "sign-up" ? "/onboarding" : safeNext(next));
    router.refresh();
  }

  const signIn = mode === "sign-in";
  return (
    <Card>
      <CardHeader>
        <CardTitle>{signIn ? "Sign in" : "Create your account"}</CardTitle>
        <CardDescription>
          {signIn ? "Welcome back." : "Then create a team or ask an admin to add you to theirs."}
        </CardDescription>
      </CardHeader>
      <CardContent>
        <form onSubmit={onSubmit} noValidate className="grid gap-4">
          {errors.form ? <Alert variant="destructive">{errors.form}</Alert> : null}
          {!signIn ? (
            <Field label="Name" error={errors.name}>
              <Input name="name" autoComplete="name" required />
            </Field>
          ) : null}
          <Field label="Email" error={errors.email}>
            <Input name="email" type="email" autoComplete="email" required />
          </Field>
          <Field
            label="Password"
            error={errors.password}
            hint={signIn ? undefined : `At least ${PASSWORD_LIMITS.min} characters.`}
          >
            <Input
              name="password"
              type="password"
              autoComplete={signIn ? "current-password" : "new-password"}
              required
            />
          </Field>
          <Button type="submit" disabled={pending}>
            {pending
              ? signIn
                ? "Signing in…"
                : "Creating account…"
              : signIn
                ? "Sign in"
                : "Create account"}
          </Button>
          <p className="text-center text-sm text-muted-foreground">
            {signIn ? "No account yet? " : "Already have an account? "}
            <Link
              href={`${signIn ? "/sign-up" : "/sign-in"}${next ? `?next=${encodeURIComponent(safeNext(next))}` : ""}`}
              className="font-medium text-foreground underline underline-offset-4"
            >
              {signIn ? "Sign up" : "Sign in"}
            </Link>
          </p>
        </form>
      </CardContent>
    </Card>
  );
}
