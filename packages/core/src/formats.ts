export * from "./paths.js";
export * from "./ascii.js";
export * from "./time.js";
export * from "./listing.js";
