import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretKey, isSecretParam, keyWords, redactSecrets, redactText } from './redact.ts';

const R = '[REDACTED]';

describe('secret redaction: names', () => {
  it('splits keys into words at camelCase, snake_case, kebab-case and dot boundaries', () => {
    assert.deepEqual(keyWords('passwordConfirmation'), ['password', 'confirmation']);
    assert.deepEqual(keyWords('X-API-Key'), ['x', 'api', 'key']);
    assert.deepEqual(keyWords('APIKey'), ['api', 'key']);
    assert.deepEqual(keyWords('refresh_token2'), ['refresh', 'token2']);
    assert.deepEqual(keyWords('connect.sid'), ['connect', 'sid']);
  });

  it('redacts keys whose words name a secret, in any case and with any separator', () => {
    for (const key of [
      'password',
      'PASSWORD',
      'passwordConfirmation',
      'password_confirm',
      'new-password',
      'dbpassword',
      'pw',
      'new_pw',
      'pwd',
      'pass',
      'passwd',
      'auth',
      'basicAuth',
      'x-auth',
      'authorization',
      'Authorization',
      'mfa',
      'mfaCode',
      'otp',
      'totpCode',
      'pin',
      'pinCode',
      'secret',
      'clientSecret',
      'client_secret',
      'token',
      'accessToken',
      'access_token',
      'refresh_token',
      'authorization_code',
      'jwt',
      'bearer',
      'apiKey',
      'api_key',
      'X-Api-Key',
      'apikey',
      'privateKey',
      'private_key',
      'cookie',
      'Set-Cookie',
      'credential',
      'credentials',
      'connect.sid',
      'sid',
      'session',
      'laravel_session',
      'sessionKey',
      'session_id',
      'sessionID',
      'sessionid',
      'PHPSESSID',
      'JSESSIONID',
      'ASP.NET_SessionId',
      '__Host-id',
      '__Secure-next-auth.session-token',
      'DEPLOY_TOKEN',
      'AWS_SECRET_ACCESS_KEY',
      'PGPASSWORD',
      'password_hash',
    ])
      assert.equal(isSecretKey(key), true, key);
  });

  it('keeps harmless keys that merely contain a secret word as letters, or describe a secret', () => {
    for (const key of [
      'footprint',
      'spinCount',
      'shipping',
      'keyboard',
      'author',
      'authority',
      'authMethod',
      'authSource',
      'auth_provider',
      'mfaEnabled',
      'sessionStart',
      'sessions',
      'passport',
      'passenger',
      'bypass',
      'tokenizer',
      'tokenType',
      'token_expires_at',
      'tokens_used',
      'max_tokens',
      'promptTokens',
      'password_changed_at',
      'passwordLength',
      'secretName',
      'plan',
      'note',
      'key',
      'code',
      'topping',
      'compass',
      'side',
    ])
      assert.equal(isSecretKey(key), false, key);
  });

  it('treats key, code, sig and ticket as secrets only as URL parameters', () => {
    for (const name of ['key', 'code', 'sig', 'ticket', 'X-Amz-Signature', 'token'])
      assert.equal(isSecretParam(name), true, name);
    for (const name of ['q', 'orgId', 'from', 'lang', 'page']) assert.equal(isSecretParam(name), false, name);
  });
});

describe('secret redaction: text', () => {
  const cases: [string, string, string][] = [
    [
      'a URL query secret anywhere in a string',
      'reset via https://app.example.com/reset?token=abc123&lang=en#top then retry',
      `reset via https://app.example.com/reset?token=${R}&lang=en#top then retry`,
    ],
    [
      'OAuth code, API key and signed-URL parameters',
      'https://a/cb?code=xyz&state=s https://m/api?key=AIza1&q=x https://s3/o?X-Amz-Signature=dead&X-Amz-Expires=60',
      `https://a/cb?code=${R}&state=s https://m/api?key=${R}&q=x https://s3/o?X-Amz-Signature=${R}&X-Amz-Expires=60`,
    ],
    [
      'a fragment carrying a token',
      'https://app/cb#access_token=xyz&token_type=bearer',
      `https://app/cb#access_token=${R}&token_type=bearer`,
    ],
    ['userinfo in a web URL', 'https://bob:hunter2@example.com/x', `https://bob:${R}@example.com/x`],
    [
      'a token passed as a lone user name',
      'git clone https://ghp_abc123@github.com/o/r.git',
      `git clone https://${R}@github.com/o/r.git`,
    ],
    [
      'a postgres connection string',
      'DATABASE_URL=postgres://app:Sup3rS3cret@db.internal:5432/prod?sslmode=require',
      `DATABASE_URL=postgres://app:${R}@db.internal:5432/prod?sslmode=require`,
    ],
    ['a redis URL with only a password', 'redis://:hunter2@cache:6379/0', `redis://:${R}@cache:6379/0`],
    [
      'a mongodb+srv URL with an escaped password',
      'mongodb+srv://admin:p%40ss@cluster0.x.net/test?retryWrites=true',
      `mongodb+srv://admin:${R}@cluster0.x.net/test?retryWrites=true`,
    ],
    ['an amqp URL', 'amqp://guest:guest@rabbit//', `amqp://guest:${R}@rabbit//`],
    [
      'a JDBC URL with the password as a parameter',
      'jdbc:postgresql://db/prod?user=app&password=s3cr3t',
      `jdbc:postgresql://db/prod?user=app&password=${R}`,
    ],
    [
      'a libpq key=value connection string',
      "host=db port=5432 user=app password=s3cr3t dbname=prod sslpassword='a b'",
      `host=db port=5432 user=app password=${R} dbname=prod sslpassword='${R}'`,
    ],
    [
      'an ADO.NET connection string',
      'Server=x;User Id=u;Password=p4ss;Database=d',
      `Server=x;User Id=u;Password=${R};Database=d`,
    ],
    [
      'environment variables in a change description',
      'deployed with DEPLOY_TOKEN=abc123def and AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG region=eu',
      `deployed with DEPLOY_TOKEN=${R} and AWS_SECRET_ACCESS_KEY=${R} region=eu`,
    ],
    ['a NAME: value pair', 'pw: hunter2', `pw: ${R}`],
    [
      'an Authorization header with its scheme kept',
      'Authorization: Bearer abc.def.ghi, next',
      `Authorization: Bearer ${R}, next`,
    ],
    ['a basic auth header', 'authorization: Basic dXNlcjpwYXNz', `authorization: Basic ${R}`],
    [
      'a quoted header in a curl command',
      'curl -H "X-Api-Key: 12345abcdef" https://api',
      `curl -H "X-Api-Key: ${R}" https://api`,
    ],
    ['a cookie header', 'Cookie: connect.sid=s%3Aabc.def; theme=dark', `Cookie: ${R}; theme=dark`],
    ['a session cookie pair', 'connect.sid=s%3Aabc.def; theme=dark', `connect.sid=${R}; theme=dark`],
    ['JSON inside a string', '{"password":"hunter2","user":"bob"}', `{"password":"${R}","user":"bob"}`],
    ['a secret name after another pair', 'a:password=x', `a:password=${R}`],
    ['a bare bearer token', 'sent bearer 0123456789abcdefXYZ', `sent bearer ${R}`],
    [
      'a JWT anywhere',
      'token is eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl ok',
      `token is ${R} ok`,
    ],
    [
      'a PEM private key',
      'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----\nafter',
      `key:\n${R}\nafter`,
    ],
    [
      'vendor-prefixed tokens',
      'ghp_abcdefghijklmnopqrstuvwxyz0123456789 xoxb-1234567890-abc sk_live_abcdefghijklmnop1234 AKIAIOSFODNN7EXAMPLE',
      `${R} ${R} ${R} ${R}`,
    ],
  ];
  for (const [what, input, expected] of cases) {
    it(`redacts ${what}`, () => {
      assert.equal(redactText(input), expected);
      // Redacting twice changes nothing more: stored text can be redacted again safely.
      assert.equal(redactText(expected), expected);
    });
  }

  it('leaves benign text exactly as written', () => {
    for (const text of [
      'Rolled back at 12:30, see ticket OPS-1234; region=eu-west-1',
      'https://grafana.example.com/d/abc?orgId=1&from=now-1h&to=now',
      'postgres://postgres@127.0.0.1:5432/test',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/119.0',
      'the bearer of this note',
      'upgraded sk-learn; ghp_short',
      'author: Ada, authMethod=sso, tokens_used=1234, mfaEnabled: true',
      'Bump lodash from 4.17.20 to 4.17.21',
      'ssh://git@github.com/o/r.git',
      'x',
      '',
    ])
      assert.equal(redactText(text), text);
  });
});

describe('secret redaction: JSON', () => {
  it('redacts secret keys and secrets inside values at any depth, and leaves other values alone', () => {
    assert.deepEqual(
      redactSecrets({
        footprint: 'f',
        nested: [{ jwt: 'eyJ', ok: 1 }],
        password_confirm: 'p',
        pw: 'x',
        auth: 'Basic abc',
        mfa: '123456',
        'connect.sid': 's:1',
        session: { id: 'a', startedAt: 1 },
        pin: 1234,
        note: 'DEPLOY_TOKEN=abc and https://u:p@h/x?sig=1',
        author: 'ada',
        authMethod: 'password',
        tokens_used: 12,
      }),
      {
        footprint: 'f',
        nested: [{ jwt: R, ok: 1 }],
        password_confirm: R,
        pw: R,
        auth: R,
        mfa: R,
        'connect.sid': R,
        session: R,
        pin: R,
        note: `DEPLOY_TOKEN=${R} and https://u:${R}@h/x?sig=${R}`,
        author: 'ada',
        authMethod: 'password',
        tokens_used: 12,
      },
    );
  });

  it('keeps booleans and nulls under secret keys (they hold no secret)', () => {
    assert.deepEqual(redactSecrets({ mfa: true, password: null, otp: false }), {
      mfa: true,
      password: null,
      otp: false,
    });
  });
});
