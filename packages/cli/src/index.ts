export { parseCli, parseUsersFile, USAGE, type CliOptions, type CliUser, type ParsedCli } from "./args.js";
