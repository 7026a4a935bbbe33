import { organizationClient } from "better-auth/client/plugins";
import { createAuthClient } from "better-auth/react";

/** Better Auth in the browser: sign-up/in/out and switching the active team (organization). */
export const authClient = createAuthClient({ plugins: [organizationClient()] });
