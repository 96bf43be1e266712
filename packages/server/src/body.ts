/**
 * Request bodies: streamed with a size bound (and a SHA-256 check for content named by its
 * digest), and the rule for answering before a body is read to its end.
 */

import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** The body went past the entry size limit. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`The body is larger than the ${limit}-byte entry size limit.`)
  }
}

/** The body's SHA-256 is not the name it was put under. */
export class DigestMismatch extends Error {
  constructor(
    readonly expected: string,
    readonly found: string,
  ) {
    super(`The body's SHA-256 is ${found}, not its name ${expected}: nothing was stored.`)
  }
}

/** The client stopped sending before its body ended (closed or reset the connection). */
export class ClientGone extends Error {
  constructor() {
    super('The client went away before its body ended.')
  }
}

/**
 * The request's body, chunk by chunk, for `store.put`. Throws BodyTooLarge past `limit`,
 * DigestMismatch at the end when `sha256` is given and does not match, and ClientGone when the
 * client stops early: each makes the put store nothing (it publishes only after the last chunk).
 */
export async function* boundedBody(
  req: IncomingMessage,
  options: { limit: number; sha256?: string | undefined },
): AsyncGenerator<Uint8Array> {
  const hash = options.sha256 === undefined ? undefined : createHash('sha256')
  let size = 0
  try {
    // Not destroyed when the loop stops early: the connection must live on to carry the 413.
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      const bytes = chunk as Buffer
      size += bytes.length
      if (size > options.limit) throw new BodyTooLarge(options.limit)
      hash?.update(bytes)
      yield bytes
    }
  } catch (error) {
    if (error instanceof BodyTooLarge) throw error
    throw new ClientGone()
  }
  // Node ends a request's stream cleanly when its connection closes mid-body; only `complete`
  // tells a whole body from a cut one.
  if (!req.complete) throw new ClientGone()
  if (hash !== undefined && options.sha256 !== undefined) {
    const found = hash.digest('hex')
    if (found !== options.sha256) throw new DigestMismatch(options.sha256, found)
  }
}

/** Reads a small body whole (a JSON query); undefined past `limit` bytes. */
export async function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length
    if (size > limit) return undefined
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** How much of an unread body is read and dropped after an early answer, at most. */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024
/** How long an unread body is read and dropped after an early answer, at most. */
export const DRAIN_MAX_MS = 10_000
/** How often the bytes drained are counted. */
const DRAIN_POLL_MS = 50

/**
 * Lets a client still sending its body read an answer given before that body was read (a 413,
 * a 409, a 401): Node reads and drops the rest once the answer is sent (so a keep-alive
 * connection stays usable, as Nx needs after a 409), and this bounds that reading to
 * DRAIN_MAX_BYTES and DRAIN_MAX_MS before closing the connection. Closing at once would make the
 * kernel reset the connection over the unread bytes, and the client would see ECONNRESET or EPIPE
 * instead of the answer.
 */
export function drainAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return
  res.once('finish', () => {
    if (req.complete) return
    // Node dumps the unread body itself (req._dump), which emits no 'data': the bytes are
    // counted off the socket instead, polled, as the parser reads them with no event.
    const socket = req.socket
    const start = socket.bytesRead
    const stop = () => {
      clearTimeout(timer)
      clearInterval(poll)
    }
    const timer = setTimeout(() => {
      stop()
      socket.destroy()
    }, DRAIN_MAX_MS)
    const poll = setInterval(() => {
      if (socket.bytesRead - start > DRAIN_MAX_BYTES) {
        stop()
        socket.destroy()
      }
    }, DRAIN_POLL_MS)
    timer.unref()
    poll.unref()
    req.once('end', stop)
    req.once('close', stop)
    socket.once('close', stop)
    req.resume()
  })
}
