export { duplicateUser, parseCli, parseUsersFile, USAGE, type CliOptions, type CliUser, type ParsedCli } from "./args.js";
export { runCommand, serverOptions, VERSION, type CommandHost, type CommandOptions, type CommandServer, type PasswordInput } from "./run.js";
