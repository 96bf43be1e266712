/**
 * `--workers N`: a node:cluster primary forks N workers that each serve the same store directory
 * with no lock between them (the store needs none), sharing one listening socket. The primary
 * serves no request: it runs the GC (so the GC runs in one process only, with the bytes every
 * worker reports), sums the workers' counters for /metrics, prints the ready line once all
 * workers listen, forks a replacement for a worker that dies, and passes signals on.
 */

import cluster, { type Worker } from 'node:cluster'
import { budgetOf, createCacheServer } from './cache-server.js'
import { describePrune, GcScheduler } from './gc-scheduler.js'
import { Metrics, type MetricsSnapshot, sumSnapshots } from './metrics.js'
import {
  closeWithin,
  readyLine,
  type ServeIo,
  type ServeOptions,
  SHUTDOWN_GRACE_MS,
  serverOptions,
  untilSignal,
} from './serve.js'

/** Messages between the primary and its workers; `cairn` marks ours. */
type Message =
  | { cairn: 'written'; bytes: number }
  | { cairn: 'metrics-request'; id: number }
  | { cairn: 'metrics-collect'; id: number }
  | { cairn: 'metrics-snapshot'; id: number; snapshot: MetricsSnapshot }
  | { cairn: 'metrics-result'; id: number; snapshot: MetricsSnapshot }
  | { cairn: 'shutdown' }

/** How long the primary waits for the workers' counters before answering with what it has. */
const METRICS_WAIT_MS = 1000

export async function runPrimary(options: ServeOptions, io: ServeIo): Promise<number> {
  const count = options.workers ?? 1
  const metrics = new Metrics()
  const budget = budgetOf(options)
  const gc =
    budget.maxSize !== undefined || budget.maxAge !== undefined
      ? new GcScheduler(
          (options.store ?? options.dir) as string,
          {
            ...(budget.maxSize === undefined ? {} : { maxBytes: budget.maxSize }),
            ...(budget.maxAge === undefined ? {} : { maxAge: budget.maxAge }),
          },
          {
            ...(options.allowForeignOwner ? { allowForeignOwner: true } : {}),
            onReport: (report) => {
              metrics.add('cairn_serve_gc_runs_total', 1)
              metrics.add('cairn_serve_gc_entries_removed_total', report.removed.entries)
              metrics.add('cairn_serve_gc_bytes_freed_total', report.removed.bytes)
              if (!options.quiet && !report.skipped && report.removed.entries > 0) {
                io.stderr.write(`${describePrune(report)}\n`)
              }
            },
            onError: (error) => io.stderr.write(`cairn serve: gc failed: ${(error as Error).message}\n`),
          },
        )
      : undefined
  let stopping = false
  let nextId = 0
  const pending = new Map<number, { snapshots: MetricsSnapshot[]; waiting: number; done: () => void }>()

  const onMessage = (worker: Worker, message: Message) => {
    if (typeof message !== 'object' || message === null || !('cairn' in message)) return
    switch (message.cairn) {
      case 'written':
        gc?.noteWritten(message.bytes)
        break
      case 'metrics-request': {
        const id = ++nextId
        const live = Object.values(cluster.workers ?? {}).filter(
          (w): w is Worker => w?.isConnected() === true,
        )
        const gathered = { snapshots: [metrics.snapshot()], waiting: live.length, done: () => {} }
        const answer = () => {
          pending.delete(id)
          clearTimeout(timer)
          if (worker.isConnected()) {
            worker.send({
              cairn: 'metrics-result',
              id: message.id,
              snapshot: sumSnapshots(gathered.snapshots),
            })
          }
        }
        const timer = setTimeout(answer, METRICS_WAIT_MS)
        gathered.done = answer
        pending.set(id, gathered)
        for (const each of live) each.send({ cairn: 'metrics-collect', id })
        if (live.length === 0) answer()
        break
      }
      case 'metrics-snapshot': {
        const gathered = pending.get(message.id)
        if (!gathered) break
        gathered.snapshots.push(message.snapshot)
        if (--gathered.waiting <= 0) gathered.done()
        break
      }
    }
  }
  cluster.on('message', onMessage)

  const listening = new Promise<number>((resolve, reject) => {
    let up = 0
    cluster.on('listening', (_worker, address) => {
      if (++up === count) resolve(address.port)
    })
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return
      if (up < count) {
        // A worker that cannot start (bad store, port taken) will not start on a retry either.
        reject(
          new Error(`worker ${worker.id} exited (${signal ?? code}) before it listened; see its error above`),
        )
        return
      }
      io.stderr.write(`cairn serve: worker ${worker.id} exited (${signal ?? code}); starting another\n`)
      cluster.fork()
    })
  })
  // Before forking: a SIGHUP while the workers start must not find Node's default (which kills).
  const onHangup = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP')
  }
  process.on('SIGHUP', onHangup)
  for (let i = 0; i < count; i++) cluster.fork()
  let port: number
  try {
    port = await listening
  } catch (error) {
    stopping = true
    process.off('SIGHUP', onHangup)
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGKILL')
    throw error
  }
  // Before the ready line, as in serve.ts: a signal right after it must find our handler.
  const stopped = untilSignal()
  const shown = options.host.includes(':') ? `[${options.host}]` : options.host
  io.stdout.write(readyLine(`${options.tlsCert ? 'https' : 'http'}://${shown}:${port}`))
  gc?.start()
  await stopped
  stopping = true
  process.off('SIGHUP', onHangup)
  const exited = Object.values(cluster.workers ?? {}).map(
    (worker) =>
      new Promise<void>((resolve) => {
        if (!worker || worker.isDead()) return resolve()
        worker.once('exit', () => resolve())
        if (worker.isConnected()) worker.send({ cairn: 'shutdown' })
      }),
  )
  const kill = setTimeout(() => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGKILL')
  }, SHUTDOWN_GRACE_MS + 5000)
  kill.unref()
  await Promise.all([...exited, gc?.stop()])
  clearTimeout(kill)
  cluster.off('message', onMessage)
  return 0
}

export async function runWorker(options: ServeOptions, io: ServeIo): Promise<number> {
  let unsent = 0
  let flush: NodeJS.Timeout | undefined
  const send = (message: Message) => {
    if (process.connected) process.send?.(message)
  }
  const requests = new Map<number, (snapshot: MetricsSnapshot) => void>()
  let nextId = 0
  const server = createCacheServer({
    ...serverOptions(options, io),
    gc: false,
    // Batched: a message per upload would cost the primary more than the uploads at 1 KiB.
    onWritten: (bytes) => {
      unsent += bytes
      flush ??= setTimeout(() => {
        flush = undefined
        send({ cairn: 'written', bytes: unsent })
        unsent = 0
      }, 100)
    },
    metricsSource: () =>
      new Promise((resolve) => {
        const id = ++nextId
        const fallback = setTimeout(() => {
          requests.delete(id)
          resolve(server.metrics())
        }, METRICS_WAIT_MS * 2)
        requests.set(id, (snapshot) => {
          clearTimeout(fallback)
          requests.delete(id)
          resolve(snapshot)
        })
        send({ cairn: 'metrics-request', id })
      }),
  })
  let shutdown: () => void = () => {}
  const shutdownRequested = new Promise<void>((resolve) => {
    shutdown = resolve
  })
  process.on('message', (message: Message) => {
    if (typeof message !== 'object' || message === null || !('cairn' in message)) return
    if (message.cairn === 'metrics-collect') {
      send({ cairn: 'metrics-snapshot', id: message.id, snapshot: server.metrics() })
    } else if (message.cairn === 'metrics-result') {
      requests.get(message.id)?.(message.snapshot)
    } else if (message.cairn === 'shutdown') {
      shutdown()
    }
  })
  process.on('SIGHUP', () => {
    try {
      server.reloadTokens()
    } catch (error) {
      io.stderr.write(`cairn serve: tokens not reloaded (the old ones stay): ${(error as Error).message}\n`)
    }
  })
  const stopped = untilSignal()
  try {
    await server.listen(options.port, options.host)
  } catch (error) {
    // The IPC channel would keep this process alive, and the primary waiting for it: say why
    // and exit, and the primary stops the others.
    io.stderr.write(
      `cairn serve: worker ${cluster.worker?.id ?? '?'} cannot serve: ${(error as Error).message}\n`,
    )
    process.exit(1)
  }
  await Promise.race([stopped, shutdownRequested])
  await closeWithin(server, SHUTDOWN_GRACE_MS)
  if (flush) {
    clearTimeout(flush)
    send({ cairn: 'written', bytes: unsent })
  }
  // Leave the cluster so the primary's shared socket stops routing to us, then exit.
  cluster.worker?.disconnect()
  return 0
}
