import { parseCommandLine, UsageError } from '../args.js'
import type { Command } from '../command.js'
import { COMPRESSION_OPTION, compressionFlag, compressionOption } from '../compression-option.js'
import type { Io } from '../io.js'
import { resolveStoreDir } from '../store-dir.js'

const usage =
  'cairn serve [--store DIR] [--host 127.0.0.1] [--port 8080] [--max-size SIZE] [--max-age DUR] [--token T]... [--read-token T]... [--token-file FILE] [--workers N] [--tls-cert F --tls-key F] [--max-entry-size SIZE] [--compression CODEC] [--allow-anonymous] [--quiet]'

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve the store as a remote build cache (Bazel, ccache, Turborepo, Nx, Cairn)',
  usage,
  help: `Serves the store over HTTP as one remote cache for Bazel and ccache (--remote_cache,
layout=bazel), Cairn's remote tier (CAIRN_REMOTE), Turborepo (--api) and Nx
(NX_SELF_HOSTED_REMOTE_CACHE_SERVER); the @cairn/server README has each client's config line.
When ready it prints one line on stdout: cairn serve: listening on http://HOST:PORT.
SIGTERM or SIGINT: stop accepting, finish requests in flight, exit 0. SIGHUP: read --token-file again.

Options:
  --store DIR            the store (default: $CAIRN_DIR, else the platform's cache directory);
                         a new store uses SHA-256 content digests
  --host HOST            address to listen on (default 127.0.0.1); another address needs a token
                         or --allow-anonymous
  --port N               port (default 8080; 0 picks a free one, printed in the ready line)
  --max-size SIZE        keep the store's content under SIZE (10GB, 500MiB): the server prunes
                         least recently used entries at least once a minute and whenever 10 % of
                         SIZE has been written since the last prune
  --max-age DUR          remove entries unused for DUR (7d, 12h)
  --token T              a read-write Bearer token (repeatable); Basic auth with T as password works
  --read-token T         a read-only token (repeatable): uploads with it get 403
  --token-file FILE      tokens, one a line: "rw TOKEN" or "ro TOKEN"; # comments; reread on SIGHUP
  --workers N            serve with N processes (default 1); the GC runs in one
  --tls-cert F --tls-key F
                         serve HTTPS with this PEM certificate and key
  --max-entry-size SIZE  largest entry accepted (default 1GiB); larger uploads get 413
  --compression CODEC    store uploads over 4 KiB compressed with CODEC: none (default), gzip,
                         brotli, zstd (Node 22.15+), or CODEC:LEVEL (gzip:9); kept only when it
                         saves 10 %; downloads are the original bytes; default $CAIRN_COMPRESSION
  --allow-anonymous      listen on a non-loopback address with no token
  --quiet, -q            print only the ready line and errors

Exit codes: 0 after SIGTERM/SIGINT; 1 the store or the address failed; 2 bad usage.`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandLine(argv, {
    usage,
    options: {
      store: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'max-size': { type: 'string' },
      'max-age': { type: 'string' },
      token: { type: 'string', multiple: true },
      'read-token': { type: 'string', multiple: true },
      'token-file': { type: 'string' },
      workers: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-entry-size': { type: 'string' },
      'allow-anonymous': { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      ...COMPRESSION_OPTION,
    },
    positionals: { min: 0, max: 0 },
  })
  const text = (name: string) => values[name] as string | undefined
  const list = (name: string) => (values[name] as string[] | undefined) ?? []
  const { parseDuration, parseSize } = await import('@cairn/gc')
  const { serve } = await import('@cairn/server')
  const wrap = <T>(name: string, parse: (value: string) => T, value: string | undefined): T | undefined => {
    if (value === undefined) return undefined
    try {
      return parse(value)
    } catch (error) {
      throw new UsageError(`--${name}: ${(error as Error).message}`, usage)
    }
  }
  const port = wrap('port', (value) => whole(value, 0, 65535), text('port')) ?? 8080
  const workers = wrap('workers', (value) => whole(value, 1, 256), text('workers')) ?? 1
  if ((text('tls-cert') === undefined) !== (text('tls-key') === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together.', usage)
  }
  const maxSize = wrap('max-size', parseSize, text('max-size'))
  const maxAge = wrap('max-age', parseDuration, text('max-age'))
  const maxEntrySize = wrap('max-entry-size', parseSize, text('max-entry-size'))
  // Checked before the store is opened (in the server, or in each worker): exit 2, not 1.
  const compression = compressionOption(compressionFlag(values), io.env, usage)
  const tokenFile = text('token-file')
  const tlsCert = text('tls-cert')
  const tlsKey = text('tls-key')
  const code = await serve(
    {
      store: resolveStoreDir(text('store'), io.env, io.cwd),
      host: text('host') ?? '127.0.0.1',
      port,
      workers,
      tokens: list('token'),
      readTokens: list('read-token'),
      ...(tokenFile === undefined ? {} : { tokenFile }),
      ...(maxSize === undefined ? {} : { maxSize }),
      ...(maxAge === undefined ? {} : { maxAge }),
      ...(maxEntrySize === undefined ? {} : { maxEntrySize }),
      ...(tlsCert === undefined || tlsKey === undefined ? {} : { tlsCert, tlsKey }),
      allowAnonymous: values['allow-anonymous'] === true,
      allowForeignOwner: io.env.CAIRN_ALLOW_FOREIGN_OWNER === '1',
      ...(compression === undefined ? {} : { compression }),
      quiet: values.quiet === true,
    },
    io,
  )
  return code
}

function whole(value: string, min: number, max: number): number {
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw new Error(`expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}.`)
  }
  return number
}
