ALTER TABLE "billing_outbox" DROP CONSTRAINT "billing_outbox_batch_id_fin_hub_batches_id_fk";
--> statement-breakpoint
DROP INDEX "billing_outbox_unbatched_idx";--> statement-breakpoint
DROP INDEX "billing_outbox_batch_idx";--> statement-breakpoint
DROP INDEX "billing_outbox_team_batch_idx";--> statement-breakpoint
ALTER TABLE "fin_hub_batches" ADD COLUMN "record_ids" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "fin_hub_batches" ADD COLUMN "team_totals" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "billing_outbox_team_idx" ON "billing_outbox" USING btree ("team_id");--> statement-breakpoint
CREATE INDEX "fin_hub_batches_team_totals_idx" ON "fin_hub_batches" USING gin ("team_totals");--> statement-breakpoint
-- Batches cut before this migration keep their records: move membership onto the batch, then
-- drop the batched outbox rows (the outbox now holds only records not yet in a batch).
UPDATE "fin_hub_batches" b SET "record_ids" = m."ids" FROM (SELECT "batch_id", array_agg("usage_record_id" ORDER BY "usage_record_id") AS "ids" FROM "billing_outbox" WHERE "batch_id" IS NOT NULL GROUP BY "batch_id") m WHERE m."batch_id" = b."id";--> statement-breakpoint
UPDATE "fin_hub_batches" b SET "team_totals" = m."totals" FROM (SELECT "batch_id", jsonb_object_agg("team_id", jsonb_build_object('records', "n", 'micros', "micros"::text)) AS "totals" FROM (SELECT o."batch_id", o."team_id", count(*)::int AS "n", sum(u."cost_micros") AS "micros" FROM "billing_outbox" o JOIN "usage_records" u ON u."id" = o."usage_record_id" WHERE o."batch_id" IS NOT NULL GROUP BY o."batch_id", o."team_id") t GROUP BY "batch_id") m WHERE m."batch_id" = b."id";--> statement-breakpoint
DELETE FROM "billing_outbox" WHERE "batch_id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "billing_outbox" DROP COLUMN "batch_id";--> statement-breakpoint
ALTER TABLE "billing_outbox" DROP COLUMN "exported_at";--> statement-breakpoint
-- Batch bodies are already compact JSON read whole by the sender: store them uncompressed
-- (TOAST compression of a large body cost more than its I/O in bench/export).
ALTER TABLE "fin_hub_batches" ALTER COLUMN "body" SET STORAGE EXTERNAL;