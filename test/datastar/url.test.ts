import t from 'tap'
import { DATASTAR_VERSION, datastarUrl } from '../../src/datastar/url.js'

t.test('the default is jsDelivr at the tested version', async (t) => {
  t.equal(DATASTAR_VERSION, '1.0.0-RC.7')
  t.equal(datastarUrl(), 'https://cdn.jsdelivr.net/gh/starfederation/datastar@1.0.0-RC.7/bundles/datastar.js')
  t.equal(datastarUrl({}), datastarUrl())
  t.equal(datastarUrl({ source: 'cdn' }), datastarUrl())
})

t.test('version', async (t) => {
  t.equal(datastarUrl({ version: '1.0.0' }), 'https://cdn.jsdelivr.net/gh/starfederation/datastar@1.0.0/bundles/datastar.js')
  t.equal(datastarUrl({ version: '1.0.0-beta.11+build.5' }), 'https://cdn.jsdelivr.net/gh/starfederation/datastar@1.0.0-beta.11+build.5/bundles/datastar.js')
  t.equal(datastarUrl({ version: 'v1.0.0-RC.6' }), 'https://cdn.jsdelivr.net/gh/starfederation/datastar@v1.0.0-RC.6/bundles/datastar.js')
})

t.test('an invalid version is refused', async (t) => {
  for (const version of ['', '1.0.0/../../evil', '1.0 .0', '1.0.0"', '1.0.0\n', '1.0.0?x=1', '1.0.0#x', '<1.0>']) {
    t.throws(() => datastarUrl({ version }), {
      code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT',
      message: /is not a version string/
    }, JSON.stringify(version))
    t.throws(() => datastarUrl({ version, source: '/datastar@{version}.js' }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' }, 'also with a custom source')
  }
})

t.test('a custom source', async (t) => {
  t.equal(datastarUrl({ source: '/assets/datastar.js' }), '/assets/datastar.js')
  t.equal(datastarUrl({ source: 'https://static.example.com/datastar.js', version: '2.0.0' }), 'https://static.example.com/datastar.js',
    'a source without a placeholder is used as it is')
  t.equal(datastarUrl({ source: 'https://static.example.com/datastar@{version}.js' }), 'https://static.example.com/datastar@1.0.0-RC.7.js')
  t.equal(datastarUrl({ source: '/v/{version}/datastar@{version}.js', version: '1.2.3' }), '/v/1.2.3/datastar@1.2.3.js', 'every placeholder is replaced')
})

t.test('an empty or non-string source is refused', async (t) => {
  t.throws(() => datastarUrl({ source: '' }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT', message: /source/ })
  t.throws(() => datastarUrl({ source: 42 as unknown as string }), { code: 'FST_ERR_DATASTAR_INVALID_ARGUMENT' })
})
