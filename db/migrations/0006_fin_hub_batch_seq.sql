CREATE SEQUENCE "public"."fin_hub_batch_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
-- Continue after the batches cut under the old max(seq)+1 scheme.
SELECT setval('"public"."fin_hub_batch_seq"', coalesce((SELECT max("seq") FROM "fin_hub_batches"), 0) + 1, false);