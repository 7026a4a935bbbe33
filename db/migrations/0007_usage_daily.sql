CREATE TABLE "usage_daily" (
	"team_id" text NOT NULL,
	"day" date NOT NULL,
	"extension_id" text NOT NULL,
	"profile_id" text NOT NULL,
	"records" bigint DEFAULT 0 NOT NULL,
	"cost_micros" bigint DEFAULT 0 NOT NULL,
	"duration_ms" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_daily_team_id_day_extension_id_profile_id_pk" PRIMARY KEY("team_id","day","extension_id","profile_id")
);
--> statement-breakpoint
-- usage_daily is the GROUP BY of usage_records by (team, UTC day of ended_at, extension, profile),
-- kept in step by the statement-level triggers below, in the same transaction as the write that
-- changes usage_records. The app only ever inserts usage records; update, delete (a team's
-- deletion cascades to its records) and truncate are applied too, so the rollup can never drift.
-- Keys are upserted in sorted order so two concurrent multi-row inserts cannot deadlock here.
CREATE FUNCTION "usage_daily_apply"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM "usage_daily";
    RETURN NULL;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    INSERT INTO "usage_daily" AS d ("team_id", "day", "extension_id", "profile_id", "records", "cost_micros", "duration_ms")
    SELECT "team_id", ("ended_at" AT TIME ZONE 'UTC')::date, "extension_id", "profile_id", -count(*), -sum("cost_micros"), -sum("duration_ms")
    FROM "usage_daily_old" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT ("team_id", "day", "extension_id", "profile_id") DO UPDATE SET
      "records" = d."records" + excluded."records",
      "cost_micros" = d."cost_micros" + excluded."cost_micros",
      "duration_ms" = d."duration_ms" + excluded."duration_ms";
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO "usage_daily" AS d ("team_id", "day", "extension_id", "profile_id", "records", "cost_micros", "duration_ms")
    SELECT "team_id", ("ended_at" AT TIME ZONE 'UTC')::date, "extension_id", "profile_id", count(*), sum("cost_micros"), sum("duration_ms")
    FROM "usage_daily_new" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT ("team_id", "day", "extension_id", "profile_id") DO UPDATE SET
      "records" = d."records" + excluded."records",
      "cost_micros" = d."cost_micros" + excluded."cost_micros",
      "duration_ms" = d."duration_ms" + excluded."duration_ms";
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    DELETE FROM "usage_daily" d
    USING (SELECT DISTINCT "team_id", ("ended_at" AT TIME ZONE 'UTC')::date AS "day", "extension_id", "profile_id" FROM "usage_daily_old") k
    WHERE d."team_id" = k."team_id" AND d."day" = k."day" AND d."extension_id" = k."extension_id"
      AND d."profile_id" = k."profile_id" AND d."records" = 0;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "usage_daily_on_insert" AFTER INSERT ON "usage_records" REFERENCING NEW TABLE AS "usage_daily_new" FOR EACH STATEMENT EXECUTE FUNCTION "usage_daily_apply"();--> statement-breakpoint
CREATE TRIGGER "usage_daily_on_update" AFTER UPDATE ON "usage_records" REFERENCING OLD TABLE AS "usage_daily_old" NEW TABLE AS "usage_daily_new" FOR EACH STATEMENT EXECUTE FUNCTION "usage_daily_apply"();--> statement-breakpoint
CREATE TRIGGER "usage_daily_on_delete" AFTER DELETE ON "usage_records" REFERENCING OLD TABLE AS "usage_daily_old" FOR EACH STATEMENT EXECUTE FUNCTION "usage_daily_apply"();--> statement-breakpoint
CREATE TRIGGER "usage_daily_on_truncate" AFTER TRUNCATE ON "usage_records" FOR EACH STATEMENT EXECUTE FUNCTION "usage_daily_apply"();--> statement-breakpoint
-- Backfill. The triggers above already hold a lock that keeps writers out of usage_records until
-- this migration commits, so this snapshot has every committed record and no later one is missed.
INSERT INTO "usage_daily" ("team_id", "day", "extension_id", "profile_id", "records", "cost_micros", "duration_ms")
SELECT "team_id", ("ended_at" AT TIME ZONE 'UTC')::date, "extension_id", "profile_id", count(*), sum("cost_micros"), sum("duration_ms")
FROM "usage_records" GROUP BY 1, 2, 3, 4;
