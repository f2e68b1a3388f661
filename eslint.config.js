import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', 'bench/results/**']
  }),
  {
    // The core is framework-free: only the plugins may import Fastify.
    files: ['src/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['fastify', 'fastify/*', 'fastify-plugin', '@fastify/*', '!@fastify/error'] }]
    }
  }
]
