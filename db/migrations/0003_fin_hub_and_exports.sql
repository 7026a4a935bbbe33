CREATE TABLE "billing_outbox" (
	"usage_record_id" text PRIMARY KEY NOT NULL,
	"sandbox_id" text NOT NULL,
	"team_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"batch_id" text,
	"exported_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "fin_hub_batches" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"record_count" integer NOT NULL,
	"total_micros" bigint NOT NULL,
	"body" text NOT NULL,
	"body_sha256" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"leased_until" timestamp with time zone,
	"last_error" text,
	"last_status" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"dead_at" timestamp with time zone,
	"requeued_at" timestamp with time zone,
	"requeued_by" text,
	"requeue_count" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_exports" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"requested_by" text,
	"format" text NOT NULL,
	"filter" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"rows_total" integer DEFAULT 0 NOT NULL,
	"rows_written" integer DEFAULT 0 NOT NULL,
	"total_micros" bigint DEFAULT 0 NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"sha256" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "billing_outbox" ADD CONSTRAINT "billing_outbox_usage_record_id_usage_records_id_fk" FOREIGN KEY ("usage_record_id") REFERENCES "public"."usage_records"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_outbox" ADD CONSTRAINT "billing_outbox_batch_id_fin_hub_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."fin_hub_batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_exports" ADD CONSTRAINT "usage_exports_team_id_organization_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."organization"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "billing_outbox_sandbox_uq" ON "billing_outbox" USING btree ("sandbox_id");--> statement-breakpoint
CREATE INDEX "billing_outbox_unbatched_idx" ON "billing_outbox" USING btree ("usage_record_id") WHERE batch_id is null;--> statement-breakpoint
CREATE INDEX "billing_outbox_batch_idx" ON "billing_outbox" USING btree ("batch_id");--> statement-breakpoint
CREATE INDEX "billing_outbox_team_batch_idx" ON "billing_outbox" USING btree ("team_id","batch_id");--> statement-breakpoint
CREATE UNIQUE INDEX "fin_hub_batches_seq_uq" ON "fin_hub_batches" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "fin_hub_batches_status_next_idx" ON "fin_hub_batches" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "usage_exports_team_created_idx" ON "usage_exports" USING btree ("team_id","created_at");--> statement-breakpoint
-- Usage records settled before this migration go through the outbox like every later one.
INSERT INTO "billing_outbox" ("usage_record_id", "sandbox_id", "team_id", "created_at") SELECT "id", "sandbox_id", "team_id", "created_at" FROM "usage_records" ON CONFLICT DO NOTHING;