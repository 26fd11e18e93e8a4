// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { defineConfig } from "eslint/config";

/** Globals and syntax that would give the pure core I/O, a clock, randomness or asynchrony. */
export const coreRestrictedGlobals = [
  "Buffer", "process", "Deno", "setTimeout", "setInterval", "setImmediate", "clearTimeout",
  "clearInterval", "queueMicrotask", "Date", "Promise", "fetch", "performance", "crypto",
  "require", "globalThis", "TextEncoder", "TextDecoder", "console",
].map((name) => ({ name, message: "@pasv/core is pure: receive this as an event or emit an action." }));

export const coreRestrictedSyntax = [
  { selector: ":function[async=true]", message: "@pasv/core has no asynchrony: no async functions." },
  { selector: "AwaitExpression", message: "@pasv/core has no asynchrony." },
  { selector: "MemberExpression[object.name='Math'][property.name='random']", message: "@pasv/core draws no random numbers." },
];

export const coreRestrictedImports = {
  patterns: [
    { group: ["node:*", "fs", "fs/*", "net", "tls", "path", "os", "crypto", "child_process", "stream", "events", "http", "https", "dgram", "dns", "timers", "timers/*", "worker_threads", "@pasv/*"], message: "@pasv/core imports nothing outside itself." },
  ],
};

export default defineConfig(
  { ignores: ["**/dist/**", "**/coverage/**", "**/node_modules/**", "packages/deno/**", ".cache/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["eslint.config.js", "scripts/*.mjs"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["packages/core/src/**/*.ts"],
    ignores: ["packages/core/src/**/*.test.ts", "packages/core/src/**/*.bench.ts"],
    rules: {
      "no-restricted-globals": ["error", ...coreRestrictedGlobals],
      "no-restricted-syntax": ["error", ...coreRestrictedSyntax],
      "no-restricted-imports": ["error", coreRestrictedImports],
    },
  },
  {
    // The simulator's heap and clients index arrays they have just checked; `!` reads better there.
    files: ["packages/sim/src/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" },
  },
  {
    files: ["**/*.test.ts", "**/test/**/*.ts", "**/bench/**/*.ts", "scripts/**"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-floating-promises": "error",
    },
  },
);
