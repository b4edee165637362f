#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm install` through the prepare script).
import("../dist/src/cli/main.js").catch((error) => {
  if (error && error.code === "ERR_MODULE_NOT_FOUND") {
    process.stderr.write("toolwatch: not built yet; run `npm install` (or `npm run build`) in the toolwatch folder\n");
    process.exit(1);
  }
  throw error;
});
