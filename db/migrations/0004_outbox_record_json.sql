ALTER TABLE "billing_outbox" ADD COLUMN "record_json" text;--> statement-breakpoint
ALTER TABLE "billing_outbox" ADD COLUMN "cost_micros" bigint;