import { availableCodecs, type Codec, type CompressionOption } from '@cairn/store'
import { type OptionSpecs, UsageError } from './args.js'

/**
 * `--compression CODEC[:LEVEL]`, for the commands that write entries (`run`, `put`, `serve`):
 * which codec new content is compressed with (openStore's `compression`). CAIRN_COMPRESSION
 * says the same from the environment, for every command that writes (`get` and `has` with a
 * remote tier too, since what they download is stored); the flag wins. It applies to what this
 * command writes: entries already stored keep their own codec, and every read returns the
 * original bytes whatever it is.
 */
export const COMPRESSION_OPTION: OptionSpecs = { compression: { type: 'string' } }

/** The help text's lines for {@link COMPRESSION_OPTION}. */
export const COMPRESSION_HELP = `  --compression CODEC  compress new content over 4 KiB with CODEC: none (default), gzip, brotli,
                       zstd (Node 22.15+); CODEC:LEVEL sets the level (gzip:9, brotli:11);
                       kept only when it saves 10 %; default $CAIRN_COMPRESSION`

/** The `--compression` value of parsed {@link COMPRESSION_OPTION}. */
export function compressionFlag(values: Record<string, unknown>): string | undefined {
  return values.compression as string | undefined
}

const CODECS: readonly Codec[] = ['none', 'gzip', 'brotli', 'zstd']

/**
 * The compression a writing command asks for: `flag` (--compression), else CAIRN_COMPRESSION
 * (empty counts as unset), else undefined (the store's default, none). The text is `CODEC` or
 * `CODEC:LEVEL`. Throws UsageError (exit 2) quoting the bad text and listing the codecs this
 * Node has, for an unknown codec, zstd where it is unavailable, or a level that is not a whole
 * number. A level out of the codec's range is openStore's to refuse (ERR_CAIRN_INVALID_OPTION,
 * which openStoreForWriting makes a UsageError too).
 */
export function compressionOption(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  usage: string | undefined,
): CompressionOption | undefined {
  const fromEnv = env.CAIRN_COMPRESSION === '' ? undefined : env.CAIRN_COMPRESSION
  const text = flag ?? fromEnv
  if (text === undefined) return undefined
  const source = flag === undefined ? 'CAIRN_COMPRESSION' : '--compression'
  const match = /^([a-z0-9]+)(?::(\d{1,3}))?$/.exec(text)
  const codec = match?.[1] as Codec | undefined
  const available = availableCodecs()
  if (match === null || codec === undefined || !CODECS.includes(codec) || !available.includes(codec)) {
    const why =
      codec === 'zstd' ? `zstd needs Node 22.15 or later (this is Node ${process.versions.node}); ` : ''
    throw new UsageError(
      `${source} ${JSON.stringify(text)}: ${why}expected one of ${available.join(', ')}, optionally with a level as CODEC:LEVEL (gzip:9).`,
      usage,
    )
  }
  const level = match[2]
  if (level === undefined) return codec
  if (codec === 'none') {
    throw new UsageError(`${source} ${JSON.stringify(text)}: none takes no level.`, usage)
  }
  return { codec, level: Number(level) }
}
