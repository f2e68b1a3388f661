/**
 * The package's public surface as users meet it: every subpath of
 * package.json "exports", and the names each one exports (values from the
 * module itself, types from its built declarations, read by the TypeScript
 * compiler). Shared by the export snapshot and the docs' import check.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = new URL('../', import.meta.url)
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, string | { types: string, default: string }> }

/** Every subpath the package publishes, as users import them (`fastify-datastar`, `fastify-datastar/sse`, ...). */
export const subpaths = Object.keys(manifest.exports)
  .filter((key) => key !== './package.json')
  .map((key) => key === '.' ? 'fastify-datastar' : 'fastify-datastar/' + key.slice(2))

/** The built declaration file of a subpath. */
export function declarationsOf (subpath: string): string {
  const entry = manifest.exports[subpath === 'fastify-datastar' ? '.' : './' + subpath.slice('fastify-datastar/'.length)]
  if (typeof entry !== 'object') throw new Error(`${subpath} has no types entry`)
  return fileURLToPath(new URL(entry.types, root))
}

/** What each subpath exports: its runtime values, and the names only its declarations have (types). */
export async function publicSurface (): Promise<Record<string, { values: string[], types: string[], undeclared: string[] }>> {
  const files = subpaths.map(declarationsOf)
  const program = ts.createProgram(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, skipLibCheck: true })
  const checker = program.getTypeChecker()
  const surface: Record<string, { values: string[], types: string[], undeclared: string[] }> = {}
  for (const [index, subpath] of subpaths.entries()) {
    const source = program.getSourceFile(files[index] as string)
    const symbol = source === undefined ? undefined : checker.getSymbolAtLocation(source)
    if (symbol === undefined) throw new Error(`no declarations at ${files[index] as string}`)
    const declared = checker.getExportsOfModule(symbol).map((exported) => exported.name).sort()
    const values = Object.keys(await import(subpath)).sort()
    surface[subpath] = { values, types: declared.filter((name) => !values.includes(name)), undeclared: values.filter((name) => !declared.includes(name)) }
  }
  return surface
}
