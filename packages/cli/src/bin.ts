#!/usr/bin/env node
// The `cairn` executable: runs the command line and exits with its code. Setting exitCode rather
// than calling process.exit lets stdout and stderr drain first (a piped `cairn get` is not cut).
import { constants } from 'node:os'
import { main } from './main.js'

// A reader that closes the pipe early (`cairn get KEY | head -c 100`) is not an error to report:
// stop, as a Unix tool killed by SIGPIPE does, with the status a shell gives one (141), instead
// of Node's unhandled EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    process.exit(128 + constants.signals.SIGPIPE)
  })
}

process.exitCode = await main(process.argv.slice(2))
