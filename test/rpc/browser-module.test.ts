/**
 * Browser functions are checked when declared (forms, names, free variables)
 * and written into one static ES module, imported here for real.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import t, { type Test } from 'tap'
import { browserFunctionSource, renderBrowserModule } from '../../src/rpc/browser-module.js'
import { errorCodes } from '../../src/errors.js'

const require = createRequire(import.meta.url)
// Browser globals, for the compiler only: the functions that use them run in a browser.
declare const document: { title: string }
declare const location: { href: string }
declare const window: { location: { href: string } }
const db = { users: 1 }

/** Asserts the declaration is refused with FST_ERR_RPC_BROWSER_FUNCTION and this message. */
function refused (t: Test, name: string, fn: Function, message: string | RegExp): void {
  t.throws(() => browserFunctionSource(name, fn), { code: 'FST_ERR_RPC_BROWSER_FUNCTION', statusCode: 500, message }, message.toString())
}

/** The message of a refused free variable. */
function closesOver (name: string, variable: string): string {
  return `Browser function "${name}" uses "${variable}", which it does not define and the browser does not have: a browser function cannot close over server variables`
}

/** Imports a module from its text (a data: URL, as a file would be). */
async function importSource (source: string): Promise<{ functions: Record<string, (...args: unknown[]) => unknown> }> {
  return await import(`data:text/javascript,${encodeURIComponent(source)}`)
}

t.test('arrow functions and function expressions are sent as written', async (t) => {
  t.equal(browserFunctionSource('add', (a: number, b: number) => a + b), '(a, b) => a + b')
  t.equal(browserFunctionSource('one', () => 1), '() => 1')
  t.equal(browserFunctionSource('wait', async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))),
    'async (ms) => await new Promise((resolve) => setTimeout(resolve, ms))')
  t.equal(browserFunctionSource('anon', function (x: number) { return x }), 'function (x) { return x; }')
  // A named function expression's name is bound inside it: recursion is fine.
  t.equal(browserFunctionSource('fact', function fact (n: number): number { return n < 2 ? 1 : n * fact(n - 1) }),
    'function fact(n) { return n < 2 ? 1 : n * fact(n - 1); }')
  t.equal(browserFunctionSource('count', function * count () { yield 1 }), 'function* count() { yield 1; }')
  t.equal(browserFunctionSource('later', async function () { return 1 }), 'async function () { return 1; }')
})

t.test('method shorthand becomes an anonymous function expression', async (t) => {
  t.equal(browserFunctionSource('add', { add (a: number, b: number) { return a + b } }.add), 'function (a, b) { return a + b; }')
  t.equal(browserFunctionSource('fetchIt', { async fetchIt (url: string) { return await fetch(url) } }.fetchIt),
    'async function (url) { return await fetch(url); }')
  t.equal(browserFunctionSource('gen', { * gen () { yield 1 } }.gen), 'function* () { yield 1; }')
  t.equal(browserFunctionSource('agen', { async * gen () { yield 1 } }.gen), 'async function* () { yield 1; }')
  t.equal(browserFunctionSource('quoted', { 'a b' (x: number) { return x } }['a b']), 'function (x) { return x; }')
  t.equal(browserFunctionSource('computed', { [Symbol.iterator] (x: number) { return x } }[Symbol.iterator]), 'function (x) { return x; }')
  // A method whose name is `get` is a method, not a getter.
  t.equal(browserFunctionSource('get', { get (x: number) { return x } }.get), 'function (x) { return x; }')
  // A method's own name is not in scope inside it: `f` here is a server variable.
  const f = (x: number): number => x
  refused(t, 'rec', { f (x: number) { return f(x) } }.f, closesOver('rec', 'f'))
  refused(t, 'sup', { sup () { return super.toString() } }.sup, /^Browser function "sup" cannot run outside its object: 'super' keyword outside a method/)
})

t.test('what has no source to copy, or is no function, is refused', async (t) => {
  refused(t, 'max', Math.max, 'Browser function "max" is native or bound: it has no source to send to the browser')
  refused(t, 'bound', function (this: { k: number }) { return this.k }.bind({ k: 1 }), 'Browser function "bound" is native or bound: it has no source to send to the browser')
  refused(t, 'proxy', new Proxy(() => 1, {}), 'Browser function "proxy" is native or bound: it has no source to send to the browser')
  refused(t, 'cls', class Point {}, 'Browser function "cls" is a class: declare a function')
  const accessors = Object.getOwnPropertyDescriptor({ get x () { return 1 }, set x (value: number) {} }, 'x')!
  refused(t, 'getter', accessors.get!, 'Browser function "getter" is a getter: declare a function')
  refused(t, 'setter', accessors.set!, 'Browser function "setter" is a setter: declare a function')
  class Secret {
    static #hidden () { return 1 }
    static get hidden (): Function { return Secret.#hidden }
  }
  refused(t, 'hidden', Secret.hidden, /^Browser function "hidden" is not a function the browser can run: /)
  refused(t, 'number', 42 as unknown as Function, 'Browser function "number" is not a function')
})

t.test('names are ASCII identifiers, none of Object.prototype\'s', async (t) => {
  for (const name of ['add', '_private', '$el', 'a1', 'delete']) t.ok(browserFunctionSource(name, () => 1), name)
  const message = (name: string): string => `Browser function "${name}" needs a name that is an ASCII identifier and not a name of Object.prototype or "prototype"`
  for (const name of ['', '1a', 'a-b', 'a b', 'été', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype']) {
    refused(t, name, () => 1, message(name))
  }
})

t.test('a free variable the browser does not have is refused, by name', async (t) => {
  refused(t, 'users', () => db.users, closesOver('users', 'db'))
  refused(t, 'read', () => readFileSync('/etc/hostname'), closesOver('read', 'readFileSync'))
  refused(t, 'req', () => require('node:fs'), closesOver('req', 'require'))
  refused(t, 'env', () => process.env.HOME, closesOver('env', 'process'))
  refused(t, 'bytes', () => Buffer.from('x'), closesOver('bytes', 'Buffer'))
  refused(t, 'nested', () => { function inner () { return db } return inner() }, closesOver('nested', 'db'))
  refused(t, 'deep', function () { return () => () => db }, closesOver('deep', 'db'))
  refused(t, 'defaults', (a = db) => a, closesOver('defaults', 'db'))
  // typeof of an undeclared name is refused too: on the server it may well be declared.
  refused(t, 'probe', () => typeof db, closesOver('probe', 'db'))
  // An arrow's `this` and `arguments` are the server's.
  refused(t, 'self', () => this, closesOver('self', 'this'))
  refused(t, 'selfDeep', () => () => this, closesOver('selfDeep', 'this'))
})

t.test('what a function defines itself, and the browser\'s globals, are fine', async (t) => {
  const accepted: Array<[string, Function]> = [
    ['params', (db: number) => db],
    ['destructured', ({ db, list: [first = db] }: { db: number, list: number[] }, ...rest: number[]) => db + first + rest.length],
    ['defaultFromParam', (a: number, b = a) => a + b],
    // eslint-disable-next-line no-var -- a var declaration is one of the cases
    ['inner', () => { const db = 1; let x = db; var y = x; x = y; function f () { return x } class C {} return [f(), C] }],
    ['block', () => { if (Math.random() >= 0) { const db = 1; return db } }],
    ['loop', () => { for (const db of [1]) if (db) return db; for (let i = 0; i < 1; i++) if (i) return i }],
    ['catchParam', () => { try { return 1 } catch (db) { return db } }],
    ['catchDestructured', () => { try { return 1 } catch ({ message }: any) { return message } }],
    ['args', function () { return arguments.length }],
    ['argsInArrow', function () { return () => arguments.length }],
    ['thisInFunction', function (this: unknown) { return this }],
    ['thisInNestedFunction', () => function (this: unknown) { return this }],
    ['thisInArrowInFunction', function (this: unknown) { return () => this }],
    ['classThis', () => { class B { x = this; y = () => this; static z = 1; static { this.z = 2 } } return B }],
    // eslint-disable-next-line no-labels -- labels are one of the cases
    ['label', () => { db: for (const x of [1]) { if (x) break db; continue db } }],
    ['keys', (a: { db: number }) => ({ db: a.db, db2: a.db, [a.db]: 1 })],
    ['browser', async () => { document.title = location.href; return await fetch(new URL('/x', window.location.href)) }],
    ['builtins', () => JSON.stringify([new Map(), Math.max(1, 2), Symbol.iterator, globalThis, Promise.resolve(), structuredClone({}), undefined, NaN])],
    ['hoisted', () => { return later(); function later () { return 1 } }],
    ['selfReference', function selfReference (): Function { return selfReference }]
  ]
  for (const [name, fn] of accepted) t.equal(browserFunctionSource(name, fn), Function.prototype.toString.call(fn), name)
})

t.test('the browser module exports the functions in a frozen null-prototype table', async (t) => {
  const sources = new Map([
    ['add', browserFunctionSource('add', (a: number, b: number) => a + b)],
    ['greet', browserFunctionSource('greet', { async greet (name: string) { return `hello ${name}` } }.greet)],
    ['count', browserFunctionSource('count', { * count (n: number) { for (let i = 0; i < n; i++) yield i } }.count)]
  ])
  const { source, hash } = renderBrowserModule(sources)
  t.equal(source, [
    '// Generated by fastify-datastar: the browser functions of this server.',
    'export const functions = Object.freeze({',
    '  __proto__: null,',
    `  "add": ${sources.get('add')!},`,
    `  "count": ${sources.get('count')!},`,
    `  "greet": ${sources.get('greet')!},`,
    '})',
    ''
  ].join('\n'), 'sorted by name')
  t.equal(hash, createHash('sha256').update(source).digest('base64url').slice(0, 16))
  t.match(hash, /^[\w-]{16}$/, 'fits a URL as is')

  const { functions } = await importSource(source)
  t.equal(Object.getPrototypeOf(functions), null)
  t.ok(Object.isFrozen(functions))
  t.same(Object.keys(functions), ['add', 'count', 'greet'])
  t.equal(functions.add!(2, 3), 5)
  t.equal(await functions.greet!('you'), 'hello you')
  t.same([...functions.count!(3) as Iterable<number>], [0, 1, 2])
  // Anonymous functions take their name from the table's key.
  t.same(Object.values(functions).map((fn) => fn.name), ['add', 'count', 'greet'])
})

t.test('the module text and its hash depend on the functions only, not on their order', async (t) => {
  const a = renderBrowserModule(new Map([['a', '() => 1'], ['b', '() => 2']]))
  const b = renderBrowserModule(new Map([['b', '() => 2'], ['a', '() => 1']]))
  t.same(a, b)
  t.not(renderBrowserModule(new Map([['a', '() => 1'], ['b', '() => 3']])).hash, a.hash)
  const empty = renderBrowserModule(new Map())
  t.same(Object.keys((await importSource(empty.source)).functions), [], 'no functions is an empty table')
})

t.test('a refusal is a TypeError of errorCodes', async (t) => {
  const error = t.throws(() => browserFunctionSource('x', () => db), errorCodes.FST_ERR_RPC_BROWSER_FUNCTION)
  t.type(error, TypeError, 'a programmer mistake')
})
