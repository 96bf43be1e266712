// A real nginx serving a WebDAV PUT-enabled cache directory on loopback, for the remote tests
// and bench/remote.mjs (which imports the compiled copy in test/dist/helpers).
//
// Everything nginx writes (pid, logs, request-body temp files, the cache itself) lives in one
// temp directory. nginx runs in the foreground (`daemon off`) as our child, so stopping it is
// killing one process we started. `master_process off` keeps it to that one process and, as
// root, stops it switching workers to `nobody`, who could not write our 0700 temp directory.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Nginx {
  /** Base URL of the cache location, e.g. `http://127.0.0.1:40123/cache` (`https://` with tls). */
  url: string
  /** With tls: the self-signed certificate (PEM) a client must trust, for NODE_EXTRA_CA_CERTS. */
  certificate: string | undefined
  port: number
  /** The directory nginx serves: `<root>/cache/ac/<key>`, `<root>/cache/cas/<digest>`. */
  root: string
  /** Requests nginx has logged so far, as `METHOD /path STATUS` lines. */
  requests(): string[]
  /**
   * Resolves once every request answered so far is in the log: nginx writes a line just after
   * the answer, so a client can be a step ahead. Sends one GET of a unique name and waits for
   * its line (lines are written in the order requests end).
   */
  settle(): Promise<void>
  stop(): Promise<void>
}

/** The nginx binary: NGINX_BIN, else the Debian path, else whatever `nginx` PATH finds. */
export function nginxBinary(): string {
  if (process.env.NGINX_BIN) return process.env.NGINX_BIN
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'
}

/**
 * The config: one server on 127.0.0.1:`port`, `/cache/` accepting PUT of any size; with `tls`,
 * HTTPS with the certificate and key in `dir`.
 */
export function nginxConfig(dir: string, port: number, tls = false): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  log_format cache '$request_method $uri $status';
  access_log ${dir}/access.log cache;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type application/octet-stream;
  sendfile on;
  keepalive_timeout 65s;
  server {
    listen 127.0.0.1:${port}${tls ? ` ssl;\n    ssl_certificate ${dir}/cert.pem;\n    ssl_certificate_key ${dir}/key.pem` : ''};
    root ${dir}/root;
    location /cache/ {
      log_not_found off;
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
      client_max_body_size 0;
    }
  }
}
`
}

/**
 * Starts nginx on a free loopback port; rejects with its error log if it does not come up. With
 * `tls`, it serves HTTPS with a fresh self-signed certificate for 127.0.0.1 (openssl).
 */
export async function startNginx(options: { tls?: boolean } = {}): Promise<Nginx> {
  const tls = options.tls ?? false
  const dir = mkdtempSync(join(tmpdir(), 'cairn-nginx-'))
  const root = join(dir, 'root')
  mkdirSync(join(root, 'cache'), { recursive: true })
  if (tls) makeCertificate(dir)
  // A port freed just now can be taken by someone else before nginx binds it: try a few.
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, tls))
    const child = spawn(
      nginxBinary(),
      ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let stderr = ''
    child.stderr?.on('data', (chunk) => {
      stderr += chunk
    })
    try {
      await waitForPort(port, child)
    } catch (error) {
      child.kill('SIGKILL')
      if ((error as { code?: string }).code === 'ENOENT') {
        rmSync(dir, { recursive: true, force: true })
        throw loud(
          new Error(
            `${nginxBinary()} not found: the remote tests need nginx (apt-get install -y nginx, or set NGINX_BIN).`,
          ),
        )
      }
      lastError = new Error(`nginx did not start: ${(error as Error).message}\n${stderr}${errorLog(dir)}`)
      continue
    }
    // A test process that dies without calling stop (an uncaught error) must not leave nginx
    // running: with `daemon off` it would outlive us, holding its port and temp dir.
    const killOnExit = () => {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
    process.on('exit', killOnExit)
    const requests = () => {
      try {
        return readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean)
      } catch {
        return []
      }
    }
    const settle = async () => {
      const name = `/cache/settle-${process.hrtime.bigint()}`
      await fetch(`http://127.0.0.1:${port}${name}`).then(
        (response) => response.body?.cancel(),
        () => {},
      )
      // Give up loudly, never silently (a check of the log after that could be wrong), and only
      // after a wait no busy machine needs.
      const deadline = Date.now() + 30_000
      while (!requests().some((line) => line.startsWith(`GET ${name} `))) {
        if (Date.now() > deadline) throw new Error(`nginx did not log ${name} within 30 s`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    return {
      url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/cache`,
      certificate: tls ? join(dir, 'cert.pem') : undefined,
      port,
      root: join(root, 'cache'),
      requests,
      settle,
      stop: () => {
        process.off('exit', killOnExit)
        return stopChild(child).finally(() => rmSync(dir, { recursive: true, force: true }))
      },
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw loud(lastError as Error)
}

/** `error`, printed first: uvu reports a suite whose `before` hook throws as 0 passed, silently. */
function loud(error: Error): Error {
  process.stderr.write(`${error.message}\n`)
  return error
}

/** A self-signed EC certificate for 127.0.0.1, valid for a day: cert.pem and key.pem in `dir`. */
function makeCertificate(dir: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
}

function errorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8')
  } catch {
    return ''
  }
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/** Resolves once `port` accepts connections; rejects if `child` exits first or after 30 s. */
function waitForPort(port: number, child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    // Generous: a busy machine may take seconds to start nginx, and a retry costs a new port.
    const deadline = Date.now() + 30_000
    let done = false
    child.once('exit', (code, signal) => {
      if (!done) {
        done = true
        reject(new Error(`nginx exited (${code ?? signal})`))
      }
    })
    child.once('error', (error) => {
      if (!done) {
        done = true
        reject(error)
      }
    })
    const attempt = () => {
      if (done) return
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        done = true
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) {
          done = true
          reject(new Error('nothing listening after 30 s'))
        } else setTimeout(attempt, 20)
      })
    }
    attempt()
  })
}

/** SIGTERM (nginx's fast shutdown), then SIGKILL if it lingers. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
