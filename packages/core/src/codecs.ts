export * from "./utf8.js";
export * from "./framing.js";
export * from "./command.js";
export * from "./reply.js";
export * from "./address.js";
