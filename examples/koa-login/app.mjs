// A small Koa JSON login API with in-memory users. Trailguard's middleware checks each sign-in before
// the handler (429 in enforce mode), records every attempt from the response, and records 403s; the
// handlers make no Trailguard call. Run it: see README.md beside this file.
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { guard, permissionDenied } from 'trailguard/koa';

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
  const app = new Koa();
  app.use(bodyParser());
  // Every 403, set or thrown, is recorded as permission_denied.
  app.use(permissionDenied(tg, { userId: (ctx) => ctx.get('x-user-id') || undefined }));

  // A 2xx with ctx.state.userId is a success; a 401 a failure with ctx.state.loginFailure.
  const loginGuard = guard(tg, {
    record: { userId: (ctx) => ctx.state.userId, failureReason: (ctx) => ctx.state.loginFailure },
  });
  app.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/login') {
      await loginGuard(ctx, async () => {
        const { email, password } = ctx.request.body ?? {};
        const { user, reason, known } = users.verify(String(email ?? ''), String(password ?? ''));
        ctx.state.userId = user?.id ?? known?.id;
        if (!user) {
          ctx.state.loginFailure = reason;
          ctx.status = 401;
          ctx.body = { error: 'invalid email or password' };
          return;
        }
        ctx.body = { userId: user.id };
      });
      return;
    }
    if (ctx.path === '/admin') {
      if (ctx.get('x-user-id') !== '1') ctx.throw(403, 'administrators only');
      ctx.body = { admin: true };
      return;
    }
    await next();
  });
  return app;
}
