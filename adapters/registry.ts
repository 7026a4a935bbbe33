import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Extension } from "../server/catalog/load";
import type { SandboxAdapter } from "./contract";
import { createE2bAdapter, e2bSettingsFrom } from "./e2b/e2b-adapter";
import { createModalAdapter, modalSettingsFrom } from "./modal/modal-adapter";
import { createStubAdapter, stubSettingsFrom } from "./saas-stub/stub-adapter";
import { createLogger } from "../server/logger";

export type AdapterDeps = { redis: Redis; keyPrefix: string; env: NodeJS.ProcessEnv; logger?: Logger };
type Factory = (ext: Extension, deps: AdapterDeps) => SandboxAdapter;

/** Adapter modules by the `adapter` name a manifest gives. A manifest naming another is skipped. */
const factories: Record<string, Factory> = {
  "saas-stub": (ext, deps) =>
    createStubAdapter({
      extensionId: ext.id,
      redis: deps.redis,
      keyPrefix: deps.keyPrefix,
      settings: stubSettingsFrom(ext.settings, deps.env),
    }),
  modal: (ext, deps) =>
    createModalAdapter({ extensionId: ext.id, settings: modalSettingsFrom(ext.settings, deps.env), logger: deps.logger ?? createLogger() }),
  e2b: (ext, deps) => createE2bAdapter({ extensionId: ext.id, ...e2bSettingsFrom(ext.settings, deps.env) }),
};

/** Builds the adapters the catalog's manifests name; those with no module are simply absent. */
export function buildAdapters(extensions: Iterable<Extension>, deps: AdapterDeps): Map<string, SandboxAdapter> {
  const adapters = new Map<string, SandboxAdapter>();
  for (const ext of extensions) {
    const factory = factories[ext.adapter];
    if (factory) adapters.set(ext.id, factory(ext, deps));
  }
  return adapters;
}
