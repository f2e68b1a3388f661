/**
 * Browser functions: functions written on the server that run in the browser.
 * Their source text is checked when they are declared and written into one
 * static ES module the page imports, so frames only ever carry a name and JSON
 * (nothing is evaluated from a string, which `script-src 'self'` and Trusted
 * Types would refuse anyway).
 */
import { createHash } from 'node:crypto'
import { parse, type Expression, type ExpressionStatement, type FunctionExpression, type ObjectExpression, type Program, type Property } from 'acorn'
import { analyze, type Scope } from 'eslint-scope'
import globals from 'globals'
import { FST_ERR_RPC_BROWSER_FUNCTION } from '../errors.js'

// What a function may use without defining it: the browser's globals and the language's.
const BROWSER_GLOBALS: ReadonlySet<string> = new Set([...Object.keys(globals.browser), ...Object.keys(globals.builtin)])

// ASCII only: the name travels in frames and logs, and is a key of the module's table.
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** A parsed text, or why it does not parse. */
function tryParse (text: string): Program | SyntaxError {
  try {
    // As a module: the generated module is strict module code, so this is how the browser reads it.
    // eslint-scope reads `range` (ESLint's parser sets it).
    return parse(text, { ecmaVersion: 'latest', sourceType: 'module', ranges: true })
  } catch (error) {
    return error as SyntaxError
  }
}

/** The expression of a program made of one expression statement. */
function onlyExpression (program: Program): Expression {
  return (program.body[0] as ExpressionStatement).expression
}

/**
 * The function's text as a function expression, with its parse. Method
 * shorthand (`add (a) {}`) becomes an anonymous `function`: a method's own name
 * is not in scope inside it, and the module's table names it anyway.
 */
function asExpression (name: string, source: string): { text: string, program: Program } {
  const direct = tryParse(`(${source})`)
  if (!(direct instanceof SyntaxError)) {
    if (onlyExpression(direct).type === 'ClassExpression') throw new FST_ERR_RPC_BROWSER_FUNCTION(name, 'is a class: declare a function')
    return { text: source, program: direct }
  }
  const member = tryParse(`({${source}})`)
  if (member instanceof SyntaxError) throw new FST_ERR_RPC_BROWSER_FUNCTION(name, `is not a function the browser can run: ${direct.message}`)
  const property = (onlyExpression(member) as ObjectExpression).properties[0] as Property
  if (property.kind !== 'init') throw new FST_ERR_RPC_BROWSER_FUNCTION(name, `is a ${property.kind}ter: declare a function`)
  const method = property.value as FunctionExpression
  // The method's value starts at its parameters; the `({` prefix is 2 characters.
  const text = `${method.async ? 'async ' : ''}function${method.generator ? '*' : ''} ${source.slice(method.start - 2)}`
  const program = tryParse(`(${text})`)
  if (program instanceof SyntaxError) throw new FST_ERR_RPC_BROWSER_FUNCTION(name, `cannot run outside its object: ${program.message}`)
  return { text, program }
}

/** Whether `this` in this scope is the module's (the server's, where the function was written). */
function thisIsOutside (scope: Scope): boolean {
  let binder = scope
  // A class field's initializer scope has the field's value as its block, which may be an arrow.
  while (binder.type === 'function' && binder.block.type === 'ArrowFunctionExpression') binder = binder.upper!.variableScope
  return binder.type === 'module'
}

/** The first name the function uses without defining it that the browser does not have either. */
function serverVariable (program: Program): string | undefined {
  // eslint-scope only tells ES5 from ES2015 and later: any later version reads the same.
  const manager = analyze(program as Parameters<typeof analyze>[0], { ecmaVersion: 2022, sourceType: 'module' })
  if (manager.scopes.some((scope) => scope.thisFound && thisIsOutside(scope))) return 'this'
  return manager.globalScope!.through.map((reference) => reference.identifier.name).find((used) => !BROWSER_GLOBALS.has(used))
}

/**
 * The checked source of a browser function, or FST_ERR_RPC_BROWSER_FUNCTION.
 * Arrows, function expressions and methods (async, generator) are accepted if
 * they use only what they define and the browser's globals.
 * @example browserFunctionSource('add', (a, b) => a + b) // '(a, b) => a + b'
 */
export function browserFunctionSource (name: string, fn: Function): string {
  // A quoted "__proto__" key would set the table's prototype; the others would shadow what any object has.
  if (!IDENTIFIER.test(name) || name in Object.prototype || name === 'prototype') {
    throw new FST_ERR_RPC_BROWSER_FUNCTION(name, 'needs a name that is an ASCII identifier and not a name of Object.prototype or "prototype"')
  }
  if (typeof fn !== 'function') throw new FST_ERR_RPC_BROWSER_FUNCTION(name, 'is not a function')
  const source = Function.prototype.toString.call(fn)
  // Native and bound functions (and proxies of functions) have no source to copy.
  if (/\{\s*\[native code\]\s*\}$/.test(source)) throw new FST_ERR_RPC_BROWSER_FUNCTION(name, 'is native or bound: it has no source to send to the browser')
  const { text, program } = asExpression(name, source)
  const used = serverVariable(program)
  if (used !== undefined) {
    throw new FST_ERR_RPC_BROWSER_FUNCTION(name, `uses "${used}", which it does not define and the browser does not have: a browser function cannot close over server variables`)
  }
  return text
}

/**
 * The browser module's text and hash, for its immutable URL.
 * It exports `functions`, a frozen null-prototype table of the sources (from
 * browserFunctionSource) by name, sorted so the same functions give the same text.
 * @example renderBrowserModule(new Map([['add', '(a, b) => a + b']])).hash // serve it at `/rpc/functions.${hash}.js`
 */
export function renderBrowserModule (functions: ReadonlyMap<string, string>): { source: string, hash: string } {
  const entries = [...functions].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, source]) => `  ${JSON.stringify(name)}: ${source},\n`)
  const source = `// Generated by fastify-datastar: the browser functions of this server.\nexport const functions = Object.freeze({\n  __proto__: null,\n${entries.join('')}})\n`
  return { source, hash: createHash('sha256').update(source).digest('base64url').slice(0, 16) }
}
