#!/usr/bin/env node
// The cairn-gc executable: everything is in gcMain, which also serves `cairn gc`.
import { gcMain } from './cli.js'

process.exitCode = await gcMain(process.argv.slice(2))
