/**
 * The documentation keeps up with the code: docs/errors.md has one heading per
 * error code (no more, no fewer: the classes of `errorCodes` and the RPC call
 * codes of `RpcErrorCode`), every error class is in `errorCodes`, and
 * every relative link of README.md and docs/*.md reaches a file (and, with a
 * #fragment, a heading of that file), every name a code sample imports
 * from the package is exported by that subpath (read from dist/), and the
 * defaults docs/rpc.md lists are the RPC plugin's.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import * as errors from '../src/errors.js'
import { errorCodes } from '../src/errors.js'
import { RpcErrorCode } from '../src/rpc/browser/protocol.js'
import { RPC_DEFAULTS } from '../plugins/rpc.js'
import { publicSurface } from './public-surface.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const ERROR_CODE = /^FST_ERR_[A-Z0-9_]+$/

/** The lines of a Markdown text outside fenced code blocks. */
function proseLines (markdown: string): string[] {
  const lines: string[] = []
  let fence: string | undefined
  for (const line of markdown.split(/\r?\n/)) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1]
    if (marker !== undefined) {
      if (fence === undefined) fence = marker
      else if (marker.startsWith(fence)) fence = undefined
      continue
    }
    if (fence === undefined) lines.push(line)
  }
  return lines
}

/** The `level`-deep ATX headings of a Markdown text. */
function headings (markdown: string, level?: number): string[] {
  const found: string[] = []
  for (const line of proseLines(markdown)) {
    const match = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line)
    if (match !== null && (level === undefined || match[1]!.length === level)) found.push(match[2]!)
  }
  return found
}

/** The anchors GitHub gives the headings of a file (its slugger, duplicates numbered). */
function anchors (markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const heading of headings(markdown)) {
    const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]*>/g, '')
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}

/** Inline link and image targets of a Markdown text, outside code. */
function linkTargets (markdown: string): string[] {
  const targets: string[] = []
  for (const line of proseLines(markdown)) {
    const prose = line.replace(/`[^`]*`/g, '')
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(match[1]!)
  }
  return targets
}

function read (path: string): string {
  return readFileSync(join(root, path), 'utf8')
}

const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]

t.test('docs/errors.md has a ### heading for each error code, and no other', async (t) => {
  const documented = headings(read('docs/errors.md'), 3).filter((heading) => ERROR_CODE.test(heading))
  // The coded errors, and the codes an RPC call rejects with (RpcError's, not classes).
  const codes = [...Object.keys(errorCodes), ...Object.values(RpcErrorCode)]
  const missing = codes.filter((code) => !documented.includes(code))
  const extra = documented.filter((code) => !codes.includes(code))
  t.same(missing, [], 'error codes without a heading in docs/errors.md')
  t.same(extra, [], 'headings of docs/errors.md that are not error codes')
  t.same([...documented].sort(), [...codes].sort(), 'the headings are exactly Object.keys(errorCodes) and Object.values(RpcErrorCode)')
  t.equal(new Set(documented).size, documented.length, 'each code is documented once')
})

t.test('every FST_ERR_* export of src/errors.ts is in errorCodes', async (t) => {
  const exported = Object.keys(errors).filter((name) => name.startsWith('FST_'))
  t.ok(exported.length > 0)
  t.same(exported.filter((name) => !(name in errorCodes)), [], 'error classes missing from errorCodes')
  for (const [name, ErrorClass] of Object.entries(errorCodes)) {
    t.equal(new ErrorClass().code, name, `errorCodes.${name} builds errors with code ${name}`)
  }
})

t.test('relative links in README.md and docs/*.md reach a file and a heading', async (t) => {
  const broken: string[] = []
  let checked = 0
  for (const file of docs) {
    const markdown = read(file)
    for (const target of linkTargets(markdown)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto: ...
      checked++
      const hash = target.indexOf('#')
      const path = hash === -1 ? target : target.slice(0, hash)
      const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
      const absolute = path === '' ? join(root, file) : resolve(dirname(join(root, file)), decodeURIComponent(path))
      const where = `${file}: (${target})`
      if (!existsSync(absolute)) {
        broken.push(`${where} names a missing file`)
        continue
      }
      if (fragment !== undefined && absolute.endsWith('.md') && !anchors(readFileSync(absolute, 'utf8')).has(fragment)) {
        broken.push(`${where} names no heading of ${relative(root, absolute)}`)
      }
    }
  }
  t.ok(checked > 0, 'some relative links were checked')
  t.same(broken, [], 'broken links')
})

t.test('the slugger gives GitHub’s anchors', async (t) => {
  const slugs = anchors('# Errors\n### FST_ERR_SSE_OVERFLOW\n## WebSocket resources: options\n## `reply.sse(options?)`\n## A\n## A\n')
  t.same([...slugs], ['errors', 'fst_err_sse_overflow', 'websocket-resources-options', 'replysseoptions', 'a', 'a-1'])
})

t.test('every name a sample imports from the package is exported there', async (t) => {
  const surface = await publicSurface()
  // import x, { a, type B as C } from 'fastify-datastar/...', on one line or several.
  const IMPORT = /import\s+(?:type\s+)?(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\})?\s*from\s+'(fastify-datastar(?:\/[\w-]+)?)'/g
  let checked = 0
  for (const file of docs) {
    // Code blocks and inline code alike (the README's table of entry points is inline).
    for (const [, defaultName, named, subpath] of read(file).matchAll(IMPORT)) {
      const exported = surface[subpath as string]
      if (exported === undefined) {
        t.fail(`${file}: imports from ${subpath as string}, which is not a subpath of the package`)
        continue
      }
      // `{ … }` in prose stands for "any names": only identifiers are checked.
      const names = (named ?? '').split(',').map((entry) => entry.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0] as string).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name))
      if (defaultName !== undefined) names.push('default')
      for (const name of names) {
        checked++
        t.ok(exported.values.includes(name) || exported.types.includes(name), `${file}: ${name} from ${subpath as string}`)
      }
    }
  }
  t.ok(checked >= 20, `the samples import ${checked} names`)
})

t.test('the option defaults of docs/rpc.md are RPC_DEFAULTS', async (t) => {
  const section = /## Plugin options\n([\s\S]*?)\n## /.exec(read('docs/rpc.md'))?.[1]
  if (section === undefined) throw new Error('docs/rpc.md has no Plugin options section')
  // | `name` | `default` ... | meaning |: the first code span of the default column.
  const documented = new Map([...section.matchAll(/^\| `(\w+)` \| `([^`]*)`/gm)].map(([, name, value]) => [name as string, value as string]))
  for (const [name, value] of Object.entries(RPC_DEFAULTS)) {
    const text = documented.get(name)
    t.not(text, undefined, `docs/rpc.md lists ${name}`)
    t.equal(typeof value === 'string' ? text : Number(text?.replace(/_/g, '')), typeof value === 'string' ? `'${value}'` : value, `the default of ${name}`)
  }
})
