// ESLint over every source file. TypeScript 7 (the native compiler) has no JavaScript API, so
// typescript-eslint cannot run here; Babel's parser reads TypeScript and TSX syntax instead.
// Types are checked by `npm run typecheck` (and `next build`); this catches what types don't.
import js from "@eslint/js";
import babelParser from "@babel/eslint-parser";
import globals from "globals";

export default [
  {
    ignores: [
      "node_modules/**",
      ".next/**",
      ".data/**",
      "test-results/**",
      "playwright-report/**",
      "cache/**",
      ".scratch-*/**",
      "next-env.d.ts",
      "**/*.d.ts",
    ],
  },
  js.configs.recommended,
  {
    files: ["**/*.{ts,tsx,mjs,js}"],
    languageOptions: {
      parser: babelParser,
      parserOptions: {
        requireConfigFile: false,
        babelOptions: {
          babelrc: false,
          configFile: false,
          presets: [
            ["@babel/preset-typescript", { isTSX: true, allExtensions: true }],
            ["@babel/preset-react", { runtime: "automatic" }],
          ],
        },
      },
      ecmaVersion: "latest",
      sourceType: "module",
      globals: { ...globals.node, ...globals.browser },
    },
    rules: {
      // The type checker owns these for TypeScript (type-only names look unused/undefined to Babel).
      "no-unused-vars": "off",
      "no-undef": "off",
      "no-redeclare": "off",
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-console": "off",
    },
  },
];
