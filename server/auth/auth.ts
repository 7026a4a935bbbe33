import { randomBytes } from "node:crypto";
import { apiKey } from "@better-auth/api-key";
import { betterAuth } from "better-auth";
import { APIError } from "better-auth/api";
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import { nextCookies } from "better-auth/next-js";
import { organization } from "better-auth/plugins";
import * as schema from "../../db/schema";
import { IDENTITY_LIMITS, PASSWORD_LIMITS } from "../../lib/identity-limits";
import type { Runtime } from "../runtime";
import { hasControlCharacters } from "../trpc/inputs";
import { organizationAccess } from "./roles";

/** Prefix of Sandboxer API keys, so leaked keys are recognisable by scanners. */
export const API_KEY_PREFIX = "sbxk_";

/**
 * Origins allowed to post to the auth endpoints: the public URL, its localhost/127.0.0.1 twin
 * (a newcomer opens either), and any listed in SANDBOXER_TRUSTED_ORIGINS (comma-separated).
 */
export function trustedOrigins(publicUrl: string, extra: string | undefined): string[] {
  const origins = new Set<string>();
  const url = new URL(publicUrl);
  origins.add(url.origin);
  const twin = url.hostname === "127.0.0.1" ? "localhost" : url.hostname === "localhost" ? "127.0.0.1" : null;
  if (twin) origins.add(`${url.protocol}//${twin}${url.port ? `:${url.port}` : ""}`);
  for (const o of (extra ?? "").split(",").map((x) => x.trim()).filter(Boolean)) origins.add(new URL(o).origin);
  return [...origins];
}

/** The app's length limits (lib/identity-limits.ts, which forms check too), applied to what Better Auth's own endpoints write. */
export { IDENTITY_LIMITS };

function checkLength(field: string, value: unknown, max: number) {
  if (typeof value === "string" && value.length > max) {
    throw new APIError("BAD_REQUEST", { message: `${field}: at most ${max} characters`, code: "INVALID_INPUT" });
  }
}

function checkPlain(field: string, value: unknown) {
  if (typeof value === "string" && hasControlCharacters(value)) {
    throw new APIError("BAD_REQUEST", {
      message: `${field}: must not contain control characters (line breaks, tabs, escape codes)`,
      code: "INVALID_INPUT",
    });
  }
}

function checkUser(user: { name?: unknown; email?: unknown }) {
  checkLength("name", user.name, IDENTITY_LIMITS.userName);
  checkPlain("name", user.name);
  checkPlain("email", user.email);
  checkLength("email", user.email, IDENTITY_LIMITS.email);
}

function checkTeam(team: { name?: unknown; slug?: unknown }) {
  checkLength("name", team.name, IDENTITY_LIMITS.teamName);
  checkPlain("name", team.name);
  checkPlain("slug", team.slug);
  checkLength("slug", team.slug, IDENTITY_LIMITS.teamSlug);
}

/**
 * Better Auth endpoints that are not served over HTTP: teams, members and API keys are managed
 * through the tRPC procedures, which apply Sandboxer's rules (team-scoped keys, role changes, the
 * last owner). Over HTTP these would take, e.g., an API key's metadata naming any team. The
 * server-side calls (`auth.api.*`) still work. What the browser uses stays: sign-up/in/out,
 * session, `organization/set-active` and the organization reads.
 */
export const DISABLED_AUTH_PATHS = [
  "/api-key/create",
  "/api-key/update",
  "/api-key/delete",
  "/api-key/get",
  "/api-key/list",
  "/organization/create",
  "/organization/update",
  "/organization/delete",
  "/organization/invite-member",
  "/organization/accept-invitation",
  "/organization/reject-invitation",
  "/organization/cancel-invitation",
  "/organization/remove-member",
  "/organization/update-member-role",
  "/organization/leave",
  "/organization/create-role",
  "/organization/update-role",
  "/organization/delete-role",
  "/organization/create-team",
  "/organization/update-team",
  "/organization/remove-team",
  "/organization/add-team-member",
  "/organization/remove-team-member",
  "/organization/set-active-team",
];

function buildAuth(rt: Runtime) {
  let secret = rt.env.BETTER_AUTH_SECRET;
  if (!secret) {
    if (rt.env.NODE_ENV === "production") throw new Error("BETTER_AUTH_SECRET must be set in production");
    rt.logger.warn("BETTER_AUTH_SECRET is not set; using a random one (sessions end when the process stops)");
    secret = randomBytes(32).toString("hex");
  }
  return betterAuth({
    appName: "Sandboxer",
    baseURL: rt.env.SANDBOXER_URL,
    trustedOrigins: trustedOrigins(rt.env.SANDBOXER_URL, process.env.SANDBOXER_TRUSTED_ORIGINS),
    secret,
    disabledPaths: DISABLED_AUTH_PATHS,
    database: drizzleAdapter(rt.db, {
      provider: "pg",
      schema: {
        user: schema.user,
        session: schema.session,
        account: schema.account,
        verification: schema.verification,
        organization: schema.organization,
        member: schema.member,
        invitation: schema.invitation,
        apikey: schema.apikey,
      },
    }),
    // Through our logger, message only: the library's extra arguments can hold request details.
    logger: {
      level: "warn",
      log: (level, message) => {
        // A caller's bad API key is their problem, answered with 401: not an error for operators.
        const callerFault = message.startsWith("Failed to validate API key");
        const method = callerFault ? "info" : level === "error" ? "error" : level === "warn" ? "warn" : level === "debug" ? "debug" : "info";
        rt.logger[method]({ component: "auth" }, message);
      },
    },
    emailAndPassword: { enabled: true, autoSignIn: true, minPasswordLength: PASSWORD_LIMITS.min, maxPasswordLength: PASSWORD_LIMITS.max },
    databaseHooks: {
      user: {
        create: { before: async (user) => void checkUser(user) },
        update: { before: async (user) => void checkUser(user) },
      },
    },
    advanced: {
      useSecureCookies: rt.env.SANDBOXER_URL.startsWith("https://"),
      // The web server (server/http/web.mjs) sets X-Forwarded-For from the socket, keeping a
      // chain only from the proxies listed here, so rate limits key on the real client.
      ipAddress: {
        ipAddressHeaders: ["x-forwarded-for"],
        trustedProxies: rt.env.SANDBOXER_TRUSTED_PROXIES.split(",").map((s) => s.trim()).filter(Boolean),
      },
    },
    plugins: [
      organization({
        ...organizationAccess,
        creatorRole: "owner",
        organizationHooks: {
          beforeCreateOrganization: async ({ organization: team }) => void checkTeam(team),
          beforeUpdateOrganization: async ({ organization: team }) => void checkTeam(team),
        },
      }),
      apiKey({
        defaultPrefix: API_KEY_PREFIX,
        // The plugin's default is 32, below what the console and the API accept.
        maximumNameLength: IDENTITY_LIMITS.apiKeyName,
        // Enough of the key (the prefix and 7 of its random characters) to tell keys apart in the
        // console; the plugin's default, 6, kept one random character.
        startingCharactersConfig: { charactersLength: 12 },
        enableMetadata: true,
        // Requests are limited elsewhere; the plugin's default (10 a day) would stop any program.
        rateLimit: { enabled: false },
      }),
      nextCookies(),
    ],
  });
}

export type Auth = ReturnType<typeof buildAuth>;
const cache = new WeakMap<Runtime, Auth>();

/** One Better Auth instance per runtime (it holds the DB adapter). */
export function getAuth(rt: Runtime): Auth {
  let auth = cache.get(rt);
  if (!auth) {
    auth = buildAuth(rt);
    cache.set(rt, auth);
  }
  return auth;
}
