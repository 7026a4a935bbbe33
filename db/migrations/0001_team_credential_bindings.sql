CREATE TABLE "team_credential_bindings" (
	"id" text PRIMARY KEY NOT NULL,
	"team_id" text NOT NULL,
	"extension_id" text NOT NULL,
	"field" text NOT NULL,
	"secret_ref" text NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "team_credential_bindings" ADD CONSTRAINT "team_credential_bindings_team_id_organization_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."organization"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "team_credential_bindings_uq" ON "team_credential_bindings" USING btree ("team_id","extension_id","field");--> statement-breakpoint
CREATE INDEX "team_credential_bindings_team_idx" ON "team_credential_bindings" USING btree ("team_id");