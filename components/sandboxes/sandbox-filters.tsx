"use client";

import { Field } from "@/components/ui/field";
import { NativeSelect } from "@/components/ui/input";
import type { Filters } from "@/lib/sandbox-list-query";
import { SANDBOX_STATES } from "@/lib/sandbox-states";
import { shortId } from "@/lib/format";

export function SandboxFilters({
  value,
  onChange,
  profiles,
  extensions,
}: {
  value: Filters;
  onChange: (next: Filters) => void;
  profiles: string[];
  extensions: string[];
}) {
  return (
    <div role="search" aria-label="Filter sandboxes" className="grid gap-3 sm:grid-cols-3">
      <Field label="State">
        <NativeSelect
          value={value.state}
          onChange={(e) => onChange({ ...value, state: e.target.value })}
        >
          <option value="">All states</option>
          <option value="active">Active (not ended)</option>
          {SANDBOX_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </NativeSelect>
      </Field>
      <Field label="Profile">
        <NativeSelect
          value={value.profile}
          onChange={(e) => onChange({ ...value, profile: e.target.value })}
        >
          <option value="">All profiles</option>
          {profiles.map((p) => (
            <option key={p} value={p}>
              {shortId(p)}
            </option>
          ))}
        </NativeSelect>
      </Field>
      <Field label="Extension">
        <NativeSelect
          value={value.extension}
          onChange={(e) => onChange({ ...value, extension: e.target.value })}
        >
          <option value="">All extensions</option>
          {extensions.map((x) => (
            <option key={x} value={x}>
              {shortId(x)}
            </option>
          ))}
        </NativeSelect>
      </Field>
    </div>
  );
}
