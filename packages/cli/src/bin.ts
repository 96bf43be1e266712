#!/usr/bin/env node
// The `cairn` executable: runs the command line and exits with its code. Setting exitCode rather
// than calling process.exit lets stdout and stderr drain first (a piped `cairn get` is not cut).
import { main } from './main.js'

process.exitCode = await main(process.argv.slice(2))
