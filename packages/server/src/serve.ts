/**
 * `serve`: what `cairn serve` runs. One process, or with `workers > 1` a node:cluster primary
 * that forks the workers (see cluster.ts); either way the ready line is printed once, SIGTERM
 * and SIGINT stop accepting and let requests in flight finish before exiting 0, and SIGHUP reads
 * the token file again.
 */

import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import { TokenSet } from './auth.js'
import {
  type CacheServer,
  type CacheServerOptions,
  checkExposure,
  createCacheServer,
  grantsOf,
} from './cache-server.js'
import { runPrimary, runWorker } from './cluster.js'

/** Options of {@link serve}: the server's, plus where to listen and how many processes. */
export interface ServeOptions
  extends Omit<CacheServerOptions, 'tls' | 'gc' | 'onWritten' | 'metricsSource' | 'log'> {
  host: string
  port: number
  /** Processes serving the store. Default 1 (no cluster). */
  workers?: number
  /** PEM files: serve HTTPS. */
  tlsCert?: string
  tlsKey?: string
  /** Print only the ready line and errors. */
  quiet?: boolean
}

/** Streams `serve` writes to: the ready line to stdout, everything else to stderr. */
export interface ServeIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

/** Ms that requests in flight get to finish after SIGTERM before their connections are cut. */
export const SHUTDOWN_GRACE_MS = 30_000

/**
 * Serves until SIGTERM or SIGINT, then resolves with exit code 0. Rejects (before printing the
 * ready line) when the store cannot be opened or the address cannot be listened on.
 */
export async function serve(options: ServeOptions, io: ServeIo): Promise<number> {
  const workers = options.workers ?? 1
  if (workers > 1 && cluster.isPrimary) {
    // Checked here too, so that a bad token file or an exposed address without a token is one
    // clear error before any worker starts, rather than each worker's exit.
    checkExposure(options.host, new TokenSet(grantsOf(options)).size, options.allowAnonymous === true)
    // The TLS files too: read here (and dropped), a missing one is one error, not N workers' exits.
    serverOptions(options, io)
    return runPrimary(options, io)
  }
  if (cluster.isWorker) return runWorker(options, io)
  return runSingle(options, io)
}

/** The CacheServerOptions of `options`, with the TLS files read and the log set. */
export function serverOptions(options: ServeOptions, io: ServeIo): CacheServerOptions {
  const { host: _host, port: _port, workers: _workers, tlsCert, tlsKey, quiet, ...rest } = options
  return {
    ...rest,
    ...(tlsCert !== undefined && tlsKey !== undefined
      ? { tls: { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) } }
      : {}),
    log: (line) => {
      if (!quiet || line.includes('failed')) io.stderr.write(`${line}\n`)
    },
  }
}

/** The one ready line. */
export function readyLine(url: string): string {
  return `cairn serve: listening on ${url}\n`
}

async function runSingle(options: ServeOptions, io: ServeIo): Promise<number> {
  const server = createCacheServer(serverOptions(options, io))
  const address = await server.listen(options.port, options.host)
  // The handlers go in before the ready line: a signal sent as soon as the line is read was seen
  // to find Node's default handler (which kills) when they were installed just after it.
  const stopped = untilSignal()
  io.stdout.write(readyLine(address.url))
  const onHangup = () => {
    try {
      server.reloadTokens()
      if (!options.quiet) io.stderr.write('cairn serve: tokens reloaded\n')
    } catch (error) {
      io.stderr.write(`cairn serve: tokens not reloaded (the old ones stay): ${(error as Error).message}\n`)
    }
  }
  process.on('SIGHUP', onHangup)
  await stopped
  process.off('SIGHUP', onHangup)
  await closeWithin(server, SHUTDOWN_GRACE_MS)
  return 0
}

/**
 * Closes `server`, cutting the connections still open after `graceMs`, and resolves at the
 * latest a second after that, even if Node never reports the close (a timer keeps the process
 * alive until then, so it cannot end with the close unreported).
 */
export async function closeWithin(server: CacheServer, graceMs: number): Promise<void> {
  let cut: NodeJS.Timeout | undefined
  let bound: NodeJS.Timeout | undefined
  await Promise.race([
    server.close(),
    new Promise<void>((resolve) => {
      cut = setTimeout(() => server.server.closeAllConnections(), graceMs)
      bound = setTimeout(resolve, graceMs + 1000)
    }),
  ])
  clearTimeout(cut)
  clearTimeout(bound)
}

/**
 * Resolves at the first SIGTERM or SIGINT. The handlers stay installed: a second signal while
 * requests finish must not kill the process with answers half sent.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.on('SIGTERM', () => resolve('SIGTERM'))
    process.on('SIGINT', () => resolve('SIGINT'))
  })
}
