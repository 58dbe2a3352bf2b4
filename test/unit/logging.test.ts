// What the logs keep and what they hide (src/observability/logger.ts), and how readiness names
// what failed (src/observability/readiness.ts). A pino destination stream captures the lines.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger, isErrorCodeName } from '../../src/observability/logger.js';
import { checkReadiness, NotReady, notReadyBody } from '../../src/observability/readiness.js';

function capture(): { lines: () => Record<string, unknown>[]; destination: Writable } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  return {
    destination,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('log redaction', () => {
  test("an error's code is kept when it names an error, so a log says why something failed", () => {
    const { destination, lines } = capture();
    const log = createLogger({ level: 'info', destination });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    log.warn({ err: refused }, 'upstream failed');
    log.warn({ err: Object.assign(new Error('bad header'), { code: 'ERR_INVALID_CHAR' }) }, 'x');
    log.warn({ err: Object.assign(new Error('dns'), { code: 'ENOTFOUND' }) }, 'x');
    const [first, second, third] = lines().map((line) => (line.err as { code?: string }).code);
    assert.deepEqual([first, second, third], ['ECONNREFUSED', 'ERR_INVALID_CHAR', 'ENOTFOUND']);
  });

  test('anything else under a `code` key (an OAuth authorization code) is still redacted', () => {
    const { destination, lines } = capture();
    const log = createLogger({ level: 'info', destination });
    log.info({ query: { code: 'SplxlOBeZQQYbYS6WxSbIA', state: 'xyz' } }, 'callback');
    log.info({ err: Object.assign(new Error('x'), { code: 'eyJhbGciOi-secret' }) }, 'x');
    log.info({ params: { code: 'ECONNREFUSEDX' } }, 'x');
    const [callback, err, near] = lines();
    assert.deepEqual(callback?.query, { code: '[redacted]', state: 'xyz' });
    assert.equal((err?.err as { code?: string }).code, '[redacted]');
    assert.deepEqual(near?.params, { code: '[redacted]' });
  });

  test('error code names: errno and resolver names, and known code families only', () => {
    for (const name of [
      'ECONNRESET',
      'ETIMEDOUT',
      'EAI_AGAIN',
      'ERR_HTTP_HEADERS_SENT',
      'PC_UPSTREAM_TIMEOUT',
    ])
      assert.equal(isErrorCodeName(name), true, name);
    for (const value of ['abc', 'E', 'ERR_', 'econnrefused', 'ERR_abc', 42, undefined, 'PC_X Y'])
      assert.equal(isErrorCodeName(value), false, String(value));
  });
});

describe('readiness', () => {
  const ok = () => Promise.resolve();
  const down = () => Promise.reject(new Error('connect ECONNREFUSED'));

  test('resolves when every dependency answers', async () => {
    await checkReadiness({ 'session store': ok, directory: ok });
  });

  test('names the one dependency that failed, keeping its error for the log', async () => {
    await assert.rejects(checkReadiness({ 'session store': down, directory: ok }), (err: unknown) => {
      assert.ok(err instanceof NotReady);
      assert.equal(err.message, 'session store unreachable');
      assert.deepEqual([...err.failures.keys()], ['session store']);
      assert.match(String(err.failures.get('session store')), /ECONNREFUSED/);
      return true;
    });
    await assert.rejects(checkReadiness({ 'session store': ok, directory: down }), {
      message: 'directory unreachable',
    });
  });

  test('names both when both fail', async () => {
    await assert.rejects(checkReadiness({ 'session store': down, directory: down }), {
      message: 'session store and directory unreachable',
    });
  });

  test("the 503 body names what failed, never the error's own text", async () => {
    const err = await checkReadiness({ 'session store': ok, directory: down }).catch((e: unknown) => e);
    assert.deepEqual(notReadyBody(err), { status: 'not ready', reason: 'directory unreachable' });
    assert.deepEqual(notReadyBody(new Error('redis://user:pw@host')), {
      status: 'not ready',
      reason: 'session store or directory unreachable',
    });
  });
});
