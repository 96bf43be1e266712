// A corpus of real build outputs, produced on this machine, for the compression benchmark
// (issue 17: "Measure on real build outputs"). Neither random bytes nor made-up text say how
// the compiler output a build cache holds compresses, so the codecs are measured on that:
//
// - tsc: the TypeScript sources that registry packages in node_modules ship (tsconfig-paths,
//   @bcoe/v8-coverage, @jridgewell/*, @jest/pattern, @jest/snapshot-utils, @babel/core) compiled
//   with the workspace's typescript: .js, .js.map, .d.ts and .d.ts.map, as a library build
//   emits them. Missing types of their dependencies are type errors, which do not stop tsc from
//   emitting, so the output is what a build would produce.
// - esbuild: bundles of @babel/core (with everything it imports: parser, traverse, generator…)
//   and fast-check from node_modules, each plain and minified, with its source map and its
//   metafile (JSON). (@babel/preset-env would add 24 MiB of mostly the same Babel code and make
//   a brotli-11 pass over the corpus take minutes.)
// - gcc: .o files, in a release (-O2) and a debug (-O0 -g) build, of the C++ sources that
//   @parcel/watcher ships (its Linux backends; headers from node-addon-api and /usr/include/node)
//   and of the C example programs Debian's -dev packages install under /usr/share/doc. Files
//   that need a header this machine lacks are skipped and counted.
//
// Built once and cached under <tmpdir>/cairn-bench-corpus/<id>: the id carries the versions of
// the tools, so a new compiler gives a new corpus rather than a mix. The same tools and sources
// give the same bytes: tsc and esbuild are deterministic, and gcc's debug info has this
// machine's paths mapped away (-ffile-prefix-map). Paths are left only in esbuild's source maps
// and metafiles (relative between the workspace and the corpus directory).

import { spawn, spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { build, version as esbuildVersion } from 'esbuild'

const root = resolve(fileURLToPath(new URL('..', import.meta.url)))
const pnpmDir = join(root, 'node_modules', '.pnpm')
const requireFromRoot = createRequire(join(root, 'package.json'))

/** Bump when the recipe changes, so an old cached corpus is not reused. */
const RECIPE = 5

const TSC_PACKAGES = [
  'tsconfig-paths',
  '@bcoe/v8-coverage',
  '@jridgewell/trace-mapping',
  '@jridgewell/sourcemap-codec',
  '@jridgewell/gen-mapping',
  '@jridgewell/remapping',
  '@jest/pattern',
  '@jest/snapshot-utils',
  '@babel/core',
]

const BUNDLES = ['@babel/core', 'fast-check']

const PROFILES = [
  { name: 'release', flags: ['-O2'] },
  { name: 'debug', flags: ['-O0', '-g'] },
]

/** The directory of an installed package in pnpm's store, by name (any version: the last by name). */
function pnpmPackageDir(name) {
  const prefix = `${name.replace('/', '+')}@`
  const versions = readdirSync(pnpmDir)
    .filter((entry) => entry.startsWith(prefix))
    .sort()
  if (versions.length === 0) return undefined
  return join(pnpmDir, versions.at(-1), 'node_modules', name)
}

function run(command, args, options) {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options })
}

function firstLine(command, args) {
  const result = run(command, args)
  return result.status === 0 ? result.stdout.split('\n')[0].trim() : 'none'
}

/** Every file under `dir` whose name passes `keep`, sorted, as absolute paths. */
function walk(dir, keep, skipDir = () => false) {
  const found = []
  const visit = (current) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) {
        if (!skipDir(entry.name)) visit(path)
      } else if (entry.isFile() && keep(entry.name)) found.push(path)
    }
  }
  if (existsSync(dir)) visit(dir)
  return found
}

/** tsc output of the TypeScript sources shipped by TSC_PACKAGES. */
function buildTsc(out) {
  const tsc = join(root, 'node_modules', '.bin', 'tsc')
  const built = []
  for (const name of TSC_PACKAGES) {
    const pkg = pnpmPackageDir(name)
    if (!pkg || !existsSync(join(pkg, 'src'))) continue
    const project = join(out, 'tsc-src', name.replace('/', '+'))
    // Tests import their frameworks and are not part of a library's build.
    const sources = walk(
      join(pkg, 'src'),
      (file) => file.endsWith('.ts') && !file.endsWith('.d.ts'),
      (dir) => dir === '__tests__' || dir === 'test',
    )
    for (const source of sources) {
      const target = join(project, 'src', relative(join(pkg, 'src'), source))
      mkdirSync(dirname(target), { recursive: true })
      copyFileSync(source, target)
    }
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          module: 'esnext',
          moduleResolution: 'bundler',
          rootDir: 'src',
          outDir: 'out',
          declaration: true,
          declarationMap: true,
          sourceMap: true,
          strict: true,
          skipLibCheck: true,
          types: [],
        },
        include: ['src'],
      }),
    )
    run(tsc, ['-p', project])
    const emitted = walk(join(project, 'out'), () => true)
    if (emitted.length === 0) throw new Error(`tsc emitted nothing for ${name}`)
    built.push(...emitted)
  }
  return built
}

/** esbuild bundles of BUNDLES, plain and minified, with source maps and metafiles. */
async function buildBundles(out) {
  const dir = join(out, 'esbuild')
  mkdirSync(dir, { recursive: true })
  const built = []
  for (const name of BUNDLES) {
    for (const minify of [false, true]) {
      const base = `${name.replace('/', '+')}${minify ? '.min' : ''}`
      const result = await build({
        entryPoints: [requireFromRoot.resolve(name)],
        outfile: join(dir, `${base}.js`),
        // Module comments and metafile paths are relative to this, as in a project's own build.
        absWorkingDir: root,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        minify,
        sourcemap: true,
        metafile: true,
        logLevel: 'silent',
      })
      writeFileSync(join(dir, `${base}.meta.json`), JSON.stringify(result.metafile))
      built.push(join(dir, `${base}.js`), join(dir, `${base}.js.map`), join(dir, `${base}.meta.json`))
    }
  }
  return built
}

/** The C and C++ sources to compile: @parcel/watcher's Linux sources, Debian's C examples. */
function cSources(out) {
  const sources = []
  const watcher = pnpmPackageDir('@parcel/watcher')
  const addonApi = pnpmPackageDir('node-addon-api')
  if (watcher && addonApi && existsSync('/usr/include/node/node_api.h')) {
    const other = new Set(['windows', 'macos', 'kqueue', 'wasm'])
    for (const path of walk(
      join(watcher, 'src'),
      (file) => file.endsWith('.cc'),
      (dir) => other.has(dir),
    ))
      sources.push({
        path,
        name: `parcel-watcher+${relative(join(watcher, 'src'), path).replaceAll('/', '+')}`,
        compiler: 'g++',
        flags: ['-std=c++17', `-I${addonApi}`, '-I/usr/include/node', '-DNAPI_DISABLE_CPP_EXCEPTIONS'],
      })
  }
  const includes = run('pkg-config', ['--cflags', 'libxml-2.0', 'xmlsec1']).stdout?.trim().split(/\s+/) ?? []
  const unpacked = join(out, 'c-src')
  mkdirSync(unpacked, { recursive: true })
  for (const path of walk('/usr/share/doc', (file) => file.endsWith('.c') || file.endsWith('.c.gz'))) {
    let source = path
    if (path.endsWith('.gz')) {
      source = join(unpacked, relative('/usr/share/doc', path).replaceAll('/', '+').slice(0, -'.gz'.length))
      writeFileSync(source, gunzipSync(readFileSync(path)))
    }
    const name = relative('/usr/share/doc', path).replaceAll('/', '+').replace(/\.gz$/, '')
    sources.push({ path: source, name, compiler: 'gcc', flags: includes.filter(Boolean) })
  }
  return sources
}

/** gcc/g++ objects of cSources() in every profile, two compilers at a time. */
async function buildObjects(out) {
  const sources = cSources(out)
  const jobs = []
  for (const profile of PROFILES)
    for (const source of sources) {
      jobs.push({
        ...source,
        output: join(out, 'gcc', profile.name, `${source.name}.o`),
        flags: [...profile.flags, ...source.flags],
      })
    }
  for (const profile of PROFILES) mkdirSync(join(out, 'gcc', profile.name), { recursive: true })
  const built = []
  let skipped = 0
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]
      const status = await new Promise((resolve) => {
        // The prefix maps keep this machine's paths (the build directory, the workspace's)
        // out of the debug info, so the objects do not depend on where they were built.
        const maps = [`-ffile-prefix-map=${out}=corpus`, `-ffile-prefix-map=${root}=workspace`]
        const child = spawn(job.compiler, ['-c', '-w', ...maps, ...job.flags, '-o', job.output, job.path], {
          cwd: out,
          stdio: 'ignore',
        })
        child.on('close', resolve)
        child.on('error', () => resolve(-1))
      })
      if (status === 0) built.push(job.output)
      else skipped++
    }
  }
  await Promise.all([worker(), worker()])
  return { built: built.sort(), skipped: skipped / PROFILES.length }
}

/**
 * Returns the corpus: `{ dir, files: [{ path, kind, size }], skippedC }`, building it on first
 * use (about a minute on two cores) and reusing it afterwards.
 */
export async function loadCorpus({ log = console.log } = {}) {
  const tools = [
    `recipe ${RECIPE}`,
    `esbuild ${esbuildVersion}`,
    `typescript ${JSON.parse(readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')).version}`,
    firstLine('gcc', ['--version']),
  ]
  const id = tools
    .join(' ')
    .replace(/[^A-Za-z0-9.]+/g, '-')
    .slice(0, 120)
  const dir = join(tmpdir(), 'cairn-bench-corpus', id)
  const manifestPath = join(dir, 'corpus.json')
  if (!existsSync(manifestPath)) {
    const start = performance.now()
    // A fixed name (no pid): the metafiles name their outputs by path.
    const building = `${dir}.building`
    rmSync(building, { recursive: true, force: true })
    mkdirSync(building, { recursive: true })
    const tscFiles = buildTsc(building)
    const bundleFiles = await buildBundles(building)
    const objects = await buildObjects(building)
    const files = [
      ...tscFiles.map((path) => ({ path, kind: 'tsc' })),
      ...bundleFiles.map((path) => ({ path, kind: 'esbuild' })),
      ...objects.built.map((path) => ({ path, kind: 'gcc' })),
    ].map(({ path, kind }) => ({ path: relative(building, path), kind, size: statSync(path).size }))
    writeFileSync(
      join(building, 'corpus.json'),
      JSON.stringify({ tools, files, skippedC: objects.skipped }, null, 1),
    )
    rmSync(dir, { recursive: true, force: true })
    renameSync(building, dir)
    log(`corpus built in ${((performance.now() - start) / 1000).toFixed(0)} s: ${dir}`)
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
  return { dir, tools: manifest.tools, skippedC: manifest.skippedC, files: manifest.files }
}

/** Reads every corpus file into memory: `[{ path, kind, data }]`. */
export function readCorpus(corpus) {
  return corpus.files.map((file) => ({ ...file, data: readFileSync(join(corpus.dir, file.path)) }))
}

const KiB = 1024
const MiB = 1024 * KiB

/** The size classes the composition table reports (4 KiB is the store's inline limit). */
const BANDS = [
  { label: '≤ 4 KiB (inline)', max: 4 * KiB },
  { label: '4–64 KiB', max: 64 * KiB },
  { label: '64 KiB–1 MiB', max: MiB },
  { label: '> 1 MiB', max: Number.POSITIVE_INFINITY },
]

/** Formats a byte count for the tables. */
export function formatBytes(bytes) {
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`
  if (bytes >= KiB) return `${(bytes / KiB).toFixed(1)} KiB`
  return `${bytes} B`
}

/** Rows describing the corpus: per kind and in all, files, bytes, median and largest, bands. */
export function describeCorpus(files) {
  const header = ['kind', 'files', 'bytes', 'median', 'largest', ...BANDS.map((band) => band.label)]
  const describe = (label, subset) => {
    const sizes = subset.map((file) => file.size).sort((a, b) => a - b)
    const total = sizes.reduce((sum, size) => sum + size, 0)
    const bands = BANDS.map((band, index) => {
      const min = index === 0 ? -1 : BANDS[index - 1].max
      const inBand = sizes.filter((size) => size > min && size <= band.max)
      const bytes = inBand.reduce((sum, size) => sum + size, 0)
      return `${inBand.length} (${((100 * bytes) / total).toFixed(0)} % of bytes)`
    })
    return [
      label,
      sizes.length,
      formatBytes(total),
      formatBytes(sizes[Math.floor(sizes.length / 2)]),
      formatBytes(sizes.at(-1)),
      ...bands,
    ]
  }
  const kinds = [...new Set(files.map((file) => file.kind))]
  return {
    header,
    rows: [
      ...kinds.map((kind) =>
        describe(
          kind,
          files.filter((file) => file.kind === kind),
        ),
      ),
      describe('all', files),
    ],
  }
}
