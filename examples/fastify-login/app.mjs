// A small Fastify JSON login API with in-memory users. Trailguard's hooks check each sign-in before
// the handler (429 in enforce mode), record every attempt from the response, and record 403s; the
// handlers make no Trailguard call. Run it: see README.md beside this file.
import Fastify from 'fastify';
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { guard, permissionDenied } from 'trailguard/fastify';

/** In-memory users; passwords are scrypt hashes, as they would be in a real store. */
export function createUsers(entries) {
  const users = new Map(
    entries.map(({ id, email, password }) => {
      const salt = randomBytes(16);
      return [email, { id, email, salt, hash: scryptSync(password, salt, 32) }];
    }),
  );
  return {
    verify(email, password) {
      const user = users.get(email);
      if (!user) return { user: null, reason: 'unknown_user' };
      return timingSafeEqual(scryptSync(password, user.salt, 32), user.hash)
        ? { user }
        : { user: null, reason: 'invalid_password', known: user };
    },
  };
}

/** Builds the app around a Trailguard instance (`tg`) and a user store. */
export function createApp({ tg, users }) {
  const app = Fastify();
  // Every 403 is recorded as permission_denied, with the caller's id when it sent one.
  app.addHook('onResponse', permissionDenied(tg, { userId: (request) => request.headers['x-user-id'] }));

  app.post(
    '/login',
    {
      preHandler: guard(tg, {
        // A 2xx with request.loginUserId is a success; the 401 a failure with its reason.
        record: {
          userId: (request) => request.loginUserId,
          failureReason: (request) => request.loginFailure,
        },
      }),
    },
    async (request, reply) => {
      const { email, password } = request.body ?? {};
      const { user, reason, known } = users.verify(String(email ?? ''), String(password ?? ''));
      request.loginUserId = user?.id ?? known?.id;
      if (!user) {
        request.loginFailure = reason;
        return reply.code(401).send({ error: 'invalid email or password' });
      }
      return { userId: user.id };
    },
  );

  app.get('/admin', async (request, reply) =>
    request.headers['x-user-id'] === '1'
      ? { admin: true }
      : reply.code(403).send({ error: 'administrators only' }),
  );
  return app;
}
