import { type Policy, parseDuration, parsePolicy, parseSize } from '@cairn/gc'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const H = 3_600_000
const D = 24 * H
const GiB = 1024 ** 3

/** Asserts that `text` parses to exactly `expected`. */
function same(text: string, expected: Policy): void {
  assert.equal(parsePolicy(text), expected, text)
}

/** Asserts that `text` is refused with ERR_CAIRN_INVALID_POLICY quoting `part`. */
function refused(text: string, part: string): void {
  try {
    parsePolicy(text)
  } catch (error) {
    const { code, message } = error as { code?: string; message: string }
    assert.is(code, 'ERR_CAIRN_INVALID_POLICY', text)
    assert.ok(message.includes(part), `${JSON.stringify(message)} should quote ${JSON.stringify(part)}`)
    return
  }
  assert.unreachable(`${JSON.stringify(text)} should be refused`)
}

const llvm = suite('parsePolicy: LLVM cache policy strings')

llvm('the full example from the issue', () => {
  same('prune_interval=1h:prune_after=7d:cache_size=75%:cache_size_bytes=10g:cache_size_files=100000', {
    interval: H,
    maxAge: 7 * D,
    maxDiskPercent: 75,
    maxBytes: 10 * GiB,
    maxEntries: 100_000,
  })
})

llvm('each key alone, with every unit LLVM reads', () => {
  same('prune_interval=90s', { interval: 90_000 })
  same('prune_interval=20m', { interval: 20 * 60_000 })
  same('prune_after=12h', { maxAge: 12 * H })
  same('prune_after=30d', { maxAge: 30 * D })
  same('cache_size=50%', { maxDiskPercent: 50 })
  same('cache_size_bytes=1024', { maxBytes: 1024 })
  same('cache_size_bytes=512k', { maxBytes: 512 * 1024 })
  same('cache_size_bytes=100m', { maxBytes: 100 * 1024 ** 2 })
  same('cache_size_bytes=2g', { maxBytes: 2 * GiB })
  same('cache_size_files=42', { maxEntries: 42 })
})

llvm('an empty string sets nothing; 0 disables a limit as in LLVM; a later key wins', () => {
  same('', {})
  same('prune_after=0s:cache_size=0%:cache_size_bytes=0:cache_size_files=0', {})
  same('prune_interval=0s', { interval: 0 })
  same('cache_size_files=5:cache_size_files=7', { maxEntries: 7 })
  same('prune_after=1h:', { maxAge: H })
})

llvm('unknown keys and bad values are refused, naming the bad part', () => {
  refused('prune_intervall=1h', 'prune_intervall=1h')
  refused('prune_interval=1h:max=3', 'max=3')
  refused('prune_after=7', 'prune_after=7')
  refused('prune_after=7x', 'prune_after=7x')
  refused('prune_after=-1d', 'prune_after=-1d')
  refused('cache_size=75', 'cache_size=75')
  refused('cache_size=101%', 'cache_size=101%')
  refused('cache_size_bytes=10q', 'cache_size_bytes=10q')
  refused('cache_size_bytes=', 'cache_size_bytes=')
  refused('cache_size_files=1e5', 'cache_size_files=1e5')
  refused('cache_size_files=-3', 'cache_size_files=-3')
  refused('prune_after', 'prune_after')
})

llvm('values are read as strictly as LLVM reads them; the CLI flags keep their friendlier forms', () => {
  // Units and forms parseDuration and parseSize accept for the CLI, but LLVM does not.
  refused('prune_after=1w', 'prune_after=1w')
  refused('prune_interval=500ms', 'prune_interval=500ms')
  refused('prune_after=7D', 'prune_after=7D')
  refused('prune_after= 7d', 'prune_after= 7d')
  refused('prune_after=7d ', 'prune_after=7d ')
  refused('prune_after=1.5h', 'prune_after=1.5h')
  refused('prune_interval=0', 'prune_interval=0')
  refused('cache_size=75.5%', 'cache_size=75.5%')
  refused('cache_size= 75%', 'cache_size= 75%')
  refused('cache_size_bytes=10gb', 'cache_size_bytes=10gb')
  refused('cache_size_bytes=1.5g', 'cache_size_bytes=1.5g')
  refused('cache_size_bytes=10GiB', 'cache_size_bytes=10GiB')
  refused('cache_size_bytes=2t', 'cache_size_bytes=2t')
  refused('cache_size_bytes=10 g', 'cache_size_bytes=10 g')
  refused('cache_size_bytes=99999999999999999g', 'cache_size_bytes=99999999999999999g')
  refused('cache_size_files=1.5', 'cache_size_files=1.5')
  refused('prune_after=1h::cache_size=5%', '""')
  // LLVM lower-cases the size letter (tolower in parseCachePruningPolicy), so these are its own.
  same('cache_size_bytes=10G', { maxBytes: 10 * GiB })
  same('cache_size_bytes=3K', { maxBytes: 3 * 1024 })
  // The CLI's parsers are unchanged.
  assert.is(parseDuration('1w'), 7 * D)
  assert.is(parseSize('10gb'), 10_000_000_000)
})

llvm.run()

// ---

const units = suite('sizes and durations')

units('sizes: SI, IEC and LLVM letters', () => {
  assert.is(parseSize('500MB'), 500_000_000)
  assert.is(parseSize('10GiB'), 10 * GiB)
  assert.is(parseSize('1.5g'), 1.5 * GiB)
  assert.is(parseSize('42'), 42)
  assert.is(parseSize('2kb'), 2000)
  assert.is(parseSize('1 TiB'), 1024 ** 4)
})

units('durations: ms, s, m, h, d, w', () => {
  assert.is(parseDuration('90s'), 90_000)
  assert.is(parseDuration('12h'), 12 * H)
  assert.is(parseDuration('30d'), 30 * D)
  assert.is(parseDuration('1.5d'), 36 * H)
  assert.is(parseDuration('250ms'), 250)
  assert.is(parseDuration('2w'), 14 * D)
  assert.is(parseDuration('0'), 0)
})

units('bad sizes and durations throw ERR_CAIRN_INVALID_POLICY quoting the text', () => {
  for (const bad of ['', 'ten', '10 parsecs', '-5MB', '1e3', 'GB']) {
    try {
      parseSize(bad)
      assert.unreachable(bad)
    } catch (error) {
      assert.is((error as { code?: string }).code, 'ERR_CAIRN_INVALID_POLICY', bad)
      assert.ok((error as Error).message.includes(JSON.stringify(bad)))
    }
  }
  for (const bad of ['', '30', '3 fortnights', '-1h', 'h']) {
    try {
      parseDuration(bad)
      assert.unreachable(bad)
    } catch (error) {
      assert.is((error as { code?: string }).code, 'ERR_CAIRN_INVALID_POLICY', bad)
    }
  }
})

units.run()
