#!/usr/bin/env node
// `npx payments-dr ...` from a clone (package.json "bin"): runs cli/main.ts through tsx, which
// `npm ci` installs, so nothing needs building first.
"use strict";
require("tsx/cjs");
const { main } = require("../cli/main.ts");
const { processIo } = require("../cli/io.ts");

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
main(process.argv.slice(2), { io: processIo(), env: process.env }).then((code) => {
  process.exitCode = code;
});
