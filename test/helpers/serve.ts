// A real `cairn serve` (the bundled CLI) as a child process on a free loopback port, for the
// server tests and bench/server.mjs (which imports the compiled copy in test/dist/helpers).

import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const CAIRN_BIN = fileURLToPath(new URL('../../../packages/cli/dist/cairn.mjs', import.meta.url))

export interface Served {
  /** `http://127.0.0.1:PORT`, from the ready line. */
  url: string
  port: number
  child: ChildProcess
  /** Everything printed so far. */
  stdout(): string
  stderr(): string
  /** Sends `signal` (default SIGTERM) and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /**
   * Resolves with how the process ended, sending nothing: for a test that signalled it already
   * (a second signal can land while Node is exiting, when its handlers are gone, and kill it).
   */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `cairn serve --port 0 ...args`; resolves once it printed its ready line. */
export function startServe(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<Served> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  // A test that dies without stopping the server must not leave it running.
  const kill = () => child.kill('SIGKILL')
  process.on('exit', kill)
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const match = /^cairn serve: listening on (https?:\/\/[^\s]+:(\d+))$/m.exec(stdout)
      if (match) {
        resolve({
          url: match[1] as string,
          port: Number(match[2]),
          child,
          stdout: () => stdout,
          stderr: () => stderr,
          exited: () => {
            process.off('exit', kill)
            return ended
          },
          stop: (signal = 'SIGTERM') => {
            process.off('exit', kill)
            if (child.exitCode === null && child.signalCode === null) child.kill(signal)
            return ended
          },
        })
      }
    })
    void ended.then(({ code, signal }) => {
      process.off('exit', kill)
      reject(new Error(`cairn serve exited (${code ?? signal}) before it was ready:\n${stderr}`))
    })
  })
}

/** A request to the server with fetch; the body read whole. */
export async function request(
  url: string,
  init: RequestInit & { token?: string } = {},
): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const { token, ...rest } = init
  const headers = new Headers(rest.headers)
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`)
  const send = () =>
    fetch(url, {
      ...rest,
      headers,
      ...(rest.body ? { duplex: 'half' } : {}),
    } as RequestInit)
  let response: Response
  try {
    response = await send()
  } catch (error) {
    // fetch reuses a pooled keep-alive connection. A test that ran a client with spawnSync kept
    // this process's event loop blocked past the server's keep-alive timeout, so the server's
    // close of that connection may not have been seen yet: the request meets a closed socket
    // ("fetch failed"). A request without a body is sent again once, on a new connection.
    if (rest.body) throw error
    response = await send()
  }
  return {
    status: response.status,
    body: Buffer.from(await response.arrayBuffer()),
    headers: response.headers,
  }
}
