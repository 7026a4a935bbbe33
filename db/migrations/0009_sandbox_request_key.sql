ALTER TABLE "sandboxes" ADD COLUMN "request_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "sandboxes_request_key_uq" ON "sandboxes" USING btree ("team_id","request_key");