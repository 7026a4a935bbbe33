ALTER TABLE "billing_outbox" ADD COLUMN "currency" text;--> statement-breakpoint
-- Rows already waiting get their currency from their stored JSON (inside a JSON string every
-- quote is escaped, so this unescaped pattern is the record's own key); rows without JSON get it
-- when they are serialized.
UPDATE "billing_outbox" SET "currency" = substring("record_json" from '"currency":"([^"\\]*)"') WHERE "record_json" IS NOT NULL;
