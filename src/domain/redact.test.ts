import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretKey, keyWords, redactSecrets } from './redact.ts';

describe('secret redaction', () => {
  it('splits keys into words at camelCase, snake_case and kebab-case boundaries', () => {
    assert.deepEqual(keyWords('passwordConfirmation'), ['password', 'confirmation']);
    assert.deepEqual(keyWords('X-API-Key'), ['x', 'api', 'key']);
    assert.deepEqual(keyWords('APIKey'), ['api', 'key']);
    assert.deepEqual(keyWords('refresh_token2'), ['refresh', 'token2']);
  });

  it('redacts keys whose words name a secret (audit A #7)', () => {
    for (const key of [
      'password',
      'passwordConfirmation',
      'password_confirm',
      'new-password',
      'dbpassword',
      'pwd',
      'jwt',
      'bearer',
      'pin',
      'pinCode',
      'otp',
      'totpCode',
      'token',
      'accessToken',
      'refresh_token',
      'clientSecret',
      'apiKey',
      'api_key',
      'X-Api-Key',
      'apikey',
      'privateKey',
      'sessionKey',
      'session_id',
      'sessionID',
      'authorization',
      'Cookie',
      'credentials',
    ])
      assert.equal(isSecretKey(key), true, key);
  });

  it('keeps harmless keys that merely contain a secret word as letters', () => {
    for (const key of [
      'footprint',
      'spinCount',
      'shipping',
      'keyboard',
      'author',
      'authMethod',
      'plan',
      'note',
      'key',
      'session',
      'topping',
      'compass',
    ])
      assert.equal(isSecretKey(key), false, key);
  });

  it('redacts at any depth and leaves other values alone', () => {
    assert.deepEqual(
      redactSecrets({ footprint: 'f', nested: [{ jwt: 'eyJ', ok: 1 }], password_confirm: 'p' }),
      { footprint: 'f', nested: [{ jwt: '[REDACTED]', ok: 1 }], password_confirm: '[REDACTED]' },
    );
  });
});
