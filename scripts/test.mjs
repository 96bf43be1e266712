#!/usr/bin/env node
// Runs every compiled test file (packages/*/dist/test/**/*.test.js and test/dist/**/*.test.js),
// each in its own Node process as uvu's CLI does, and ends with the line CI reads:
// `N passed, N failed` (plus `, N skipped` when any were skipped).
//
// Why not uvu's CLI: its summary is not that line, and one process per file keeps a test that
// changes process state (ulimits, cwd, signals) from leaking into the next file.
//
// Usage: node scripts/test.mjs [substring...]   runs only files whose path contains a substring.

import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const filters = process.argv.slice(2)

function findTests(dir) {
  const found = []
  let names
  try {
    names = readdirSync(dir)
  } catch {
    return found
  }
  for (const name of names.sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) found.push(...findTests(path))
    else if (name.endsWith('.test.js')) found.push(path)
  }
  return found
}

const testDirs = [
  ...readdirSync(join(root, 'packages'))
    .sort()
    .map((name) => join(root, 'packages', name, 'dist', 'test')),
  join(root, 'test', 'dist'),
]
const files = testDirs
  .flatMap(findTests)
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))

/** Runs one file; resolves to its uvu totals, read from the summary uvu prints. */
function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
      process.stdout.write(chunk)
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
      process.stderr.write(chunk)
    })
    child.on('close', (code, signal) => {
      const count = (label) => Number(output.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0)
      const total = count('Total')
      const passed = count('Passed')
      const skipped = count('Skipped')
      let failed = total - passed - skipped
      // A file that crashed, or exited non-zero with every test passing, counts as one failure:
      // a failure must never disappear from the totals.
      if ((code !== 0 || signal) && failed === 0) failed = 1
      resolve({ total, passed, failed, skipped, code, signal })
    })
  })
}

let passed = 0
let failed = 0
let skipped = 0
const failures = []
for (const file of files) {
  const name = relative(root, file)
  process.stdout.write(`\n# ${name}\n`)
  const result = await runFile(file)
  passed += result.passed
  failed += result.failed
  skipped += result.skipped
  if (result.failed > 0) failures.push(name)
  if (result.total === 0 && result.failed === 0) {
    // A suite without .run() executes nothing and would pass silently.
    failures.push(`${name} (ran no test)`)
    failed += 1
  }
}

if (files.length === 0) console.error('No test files found: did `tsc -b` run?')
if (failures.length > 0) console.error(`\nFailed files:\n  ${failures.join('\n  ')}`)
console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
