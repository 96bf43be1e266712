#!/usr/bin/env node
// Bundles the compiled `cairn` CLI (packages/cli/dist/bin.js and everything it imports) into one
// file, packages/cli/dist/cairn.mjs, which is the package's bin.
//
// Why: every `cairn run` is a new process, and loading the CLI's ~90 module files (CLI, store,
// hash, remote, glob) cost about 60 ms of a hit, more than restoring 10 MB of outputs. One file
// is read and compiled in a fraction of that. tsc still builds and type-checks every package;
// this only packs its output, and the tests run the bundle, so what ships is what is tested.

import { build } from 'esbuild'

await build({
  entryPoints: [new URL('../packages/cli/dist/bin.js', import.meta.url).pathname],
  outfile: new URL('../packages/cli/dist/cairn.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // graceful-fs is CommonJS and requires node's own modules; an ES module has no `require`.
  banner: {
    js: "import { createRequire as cairnCreateRequire } from 'node:module'\nconst require = cairnCreateRequire(import.meta.url)",
  },
  legalComments: 'eof',
  logLevel: 'warning',
})
