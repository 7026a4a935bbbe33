CREATE TABLE "reconciler_findings" (
	"id" text PRIMARY KEY NOT NULL,
	"extension_id" text NOT NULL,
	"kind" text NOT NULL,
	"team_id" text,
	"sandbox_id" text,
	"provider_sandbox_id" text,
	"observed_run_ms" bigint,
	"action" text NOT NULL,
	"detail" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sandboxes" ADD COLUMN "last_seen_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "reconciler_findings_ext_at_idx" ON "reconciler_findings" USING btree ("extension_id","at");--> statement-breakpoint
CREATE INDEX "reconciler_findings_team_at_idx" ON "reconciler_findings" USING btree ("team_id","at");