import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'tap-snapshots/**']
  }),
  {
    // The core is framework-free: only the plugins may import Fastify.
    files: ['src/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['fastify', 'fastify/*', 'fastify-plugin', '@fastify/*', '!@fastify/error'] }]
    }
  },
  {
    // Each public name is a decision (test/exports.test.ts pins them): no `export *`.
    files: ['src/**', 'plugins/**'],
    rules: {
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Export names one by one: a new public name is a decision.' }]
    }
  },
  {
    // The browser side of RPC is served to pages as it is: plain modules that import only each other.
    files: ['src/rpc/browser/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!\\./)', message: 'Browser modules import only their siblings (./x.js).' }] }]
    }
  }
]
