export * from "./auth";
export * from "./credits";
export * from "./sandboxes";
export * from "./usage";
export * from "./credentials";
export * from "./billing";
