// Helpers for @cairn/remote's unit tests: temp directories, and an in-memory HTTP cache server
// that records every request (the real-server tests, with nginx, are in the root test/).

import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made: string[] = []

/** A fresh empty directory under the system temp dir, removed by `removeTempDirs`. */
export function tempDir(prefix = 'cairn-remote-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

export interface MemoryServer {
  url: string
  /** Stored bodies by path, e.g. `/ac/3fa1…`. */
  files: Map<string, Buffer>
  /** Every request as `METHOD /path`, in arrival order. */
  log: string[]
  /** Headers of the last request. */
  lastHeaders: IncomingMessage['headers'] | undefined
  /** TCP connections accepted so far. */
  connections: number
  /** The most requests that were being handled at once. */
  maxInFlight: number
  /** Milliseconds every answer waits (to make requests overlap). */
  delayMs: number
  /**
   * While set, every request waits for this promise before it is answered: a test holds the
   * server to see what the client does with requests outstanding, however slow the machine is.
   */
  hold: Promise<void> | undefined
  /** Replaces the handler for the next requests; return true when it answered. */
  intercept: ((request: IncomingMessage, response: ServerResponse) => boolean) | undefined
  close(): Promise<void>
}

/** A minimal cache server on loopback: PUT stores, GET/HEAD serve, anything else 405. */
export async function startMemoryServer(): Promise<MemoryServer> {
  const state: Omit<MemoryServer, 'url' | 'close'> = {
    files: new Map(),
    log: [],
    lastHeaders: undefined,
    connections: 0,
    maxInFlight: 0,
    delayMs: 0,
    hold: undefined,
    intercept: undefined,
  }
  let inFlight = 0
  const server: Server = createServer((request, response) => {
    inFlight += 1
    state.maxInFlight = Math.max(state.maxInFlight, inFlight)
    response.on('close', () => {
      inFlight -= 1
    })
    const held = state.hold
    if (held) void held.then(() => answer(request, response))
    else if (state.delayMs > 0) setTimeout(() => answer(request, response), state.delayMs)
    else answer(request, response)
  })
  server.on('connection', () => {
    state.connections += 1
  })

  function answer(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').replace(/^\/cache/, '')
    state.log.push(`${request.method} ${path}`)
    state.lastHeaders = request.headers
    if (state.intercept?.(request, response)) return
    if (request.method === 'PUT') {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        state.files.set(path, Buffer.concat(chunks))
        response.writeHead(201).end()
      })
      return
    }
    const body = state.files.get(path)
    if (request.method !== 'GET' && request.method !== 'HEAD') response.writeHead(405).end()
    else if (body === undefined) response.writeHead(404).end()
    else
      response
        .writeHead(200, { 'content-length': body.length })
        .end(request.method === 'GET' ? body : undefined)
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/cache`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  })
}

/** A key as a sha256 store's hasher makes them: 64 lowercase hex characters. */
export function key64(seed: number): string {
  return seed.toString(16).padStart(8, '0').repeat(8)
}

/**
 * Resolves once `condition()` holds, polling; rejects after `ms` (far above what an idle machine
 * needs, so a loaded one is slow here, never failed) saying what was awaited.
 */
export async function waitFor(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** `promise`, or a rejection saying what never happened if it does not settle within `ms`. */
export function withDeadline<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}
