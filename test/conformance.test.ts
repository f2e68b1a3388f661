/**
 * The official Datastar SDK conformance suite (test/fixtures/datastar-sdk):
 * each golden case is sent to examples/conformance.ts the way the official
 * runner sends it, and the response is compared with output.txt twice: with
 * the official rules, then byte for byte (up to the order of data-line groups).
 *
 * Needs `npm run build`: the example imports 'fastify-datastar', which
 * resolves to dist/.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { buildConformanceApp } from '../examples/conformance.js'

const GOLDEN = new URL('./fixtures/datastar-sdk/golden/', import.meta.url)

interface Field { name: string, value: string }

/**
 * Splits a body into events (on blank lines) and each event into fields,
 * keeping the raw value after `name:` so both comparisons can use it.
 */
function parseEvents (text: string): Field[][] {
  const events: Field[][] = []
  let fields: Field[] = []
  for (const line of text.split('\n')) {
    if (line === '') {
      if (fields.length > 0) events.push(fields)
      fields = []
      continue
    }
    const colon = line.indexOf(':')
    // The official runner skips lines without a colon.
    if (colon !== -1) fields.push({ name: line.slice(0, colon), value: line.slice(colon + 1) })
  }
  if (fields.length > 0) events.push(fields)
  return events
}

/** Non-data fields in order, and data lines grouped by their first word. */
function split (event: Field[], clean: (value: string) => string): { head: Field[], groups: Record<string, string[]> } {
  const head: Field[] = []
  const groups: Record<string, string[]> = {}
  for (const { name, value } of event) {
    if (name !== 'data') {
      head.push({ name, value: clean(value) })
      continue
    }
    const line = clean(value)
    const space = line.indexOf(' ')
    const group = space === -1 ? line : line.slice(0, space)
    const lines = groups[group] ??= []
    lines.push(space === -1 ? '' : line.slice(space + 1))
  }
  return { head, groups }
}

/** Sorts the attributes of every start tag, as the official runner does before comparing `elements`. */
function normaliseHtml (html: string): string {
  return html.replace(/<([a-zA-Z][^\s/>]*)([^>]*?)(\/?)>/g, (_tag, name: string, attributes: string, slash: string) => {
    const sorted = attributes.match(/[^\s"'>/=]+(?:=(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?/g)?.sort() ?? []
    return '<' + [name, ...sorted].join(' ') + slash + '>'
  })
}

const cases = ['get', 'post'].flatMap((method) =>
  readdirSync(new URL(method + '/', GOLDEN)).sort().map((name) => ({ method, name, url: new URL(`${method}/${name}/`, GOLDEN) })))

t.equal(cases.length, 20, 'all 20 golden cases are present')

const app = buildConformanceApp()
t.teardown(() => app.close())
const base = await app.listen({ port: 0, host: '127.0.0.1' })

for (const { method, name, url } of cases) {
  t.test(name, async (t) => {
    const input = readFileSync(new URL('input.json', url), 'utf8')
    const expected = readFileSync(new URL('output.txt', url), 'utf8')
    const headers = { accept: 'text/event-stream', 'datastar-request': 'true' }
    const response = method === 'get'
      ? await fetch(`${base}/test?datastar=${encodeURIComponent(input)}`, { headers })
      : await fetch(`${base}/test`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: input })
    const body = await response.text()
    t.equal(response.status, 200, 'status 200', { body })

    const want = parseEvents(expected)
    const got = parseEvents(body)
    t.equal(got.length, want.length, 'event count')

    t.test('official comparison', async (t) => {
      // The runner compares values with surrounding whitespace trimmed.
      const trim = (value: string): string => value.trim()
      want.forEach((wantEvent, i) => {
        const expectedEvent = split(wantEvent, trim)
        const actualEvent = split(got[i] ?? [], trim)
        // event, id, retry: same values, no field missing or extra.
        t.same(fieldMap(actualEvent.head), fieldMap(expectedEvent.head), `event ${i + 1} fields`)
        t.same(Object.keys(actualEvent.groups).sort(), Object.keys(expectedEvent.groups).sort(), `event ${i + 1} data groups`)
        for (const [group, lines] of Object.entries(expectedEvent.groups)) {
          const actual = actualEvent.groups[group] ?? []
          if (group === 'elements') {
            t.equal(normaliseHtml(actual.join('\n')), normaliseHtml(lines.join('\n')), `event ${i + 1} data elements (attribute order normalised)`)
          } else {
            t.same(actual, lines, `event ${i + 1} data ${group}`)
          }
        }
      })
    })

    t.test('strict comparison', async (t) => {
      // Stricter than the runner: raw values (only the one space after the
      // colon is dropped), non-data fields in the same order, and each data
      // group's lines byte for byte, in order. Only the order of the groups
      // themselves is free: the golden files disagree on it, e.g.
      // removeElementsWithDefaults and removeElementsWithoutDefaults put
      // `mode` before `selector` while removeElementsWithAllOptions and
      // patchElementsWithAllOptions put `selector` first.
      const raw = (value: string): string => value.startsWith(' ') ? value.slice(1) : value
      t.ok(body.endsWith('\n\n'), 'the last event is terminated by a blank line')
      t.notMatch(body, /\r/, 'lines end with LF only')
      const same = t.strictSame(got.map((event) => split(event, raw)), want.map((event) => split(event, raw)), 'same events, fields and data lines')
      if (same && body !== expected) t.comment(`${name}: same bytes as output.txt except the order of data-line groups`)
    })
  })
}

/** Non-data fields by name, each with its values. */
function fieldMap (fields: Field[]): Record<string, string[]> {
  const map: Record<string, string[]> = {}
  for (const { name, value } of fields) (map[name] ??= []).push(value)
  return map
}
