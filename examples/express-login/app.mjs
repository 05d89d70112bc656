// A small real Express app with a login form and in-memory users. Trailguard's middleware checks each
// sign-in before the handler (refusing flagged addresses in enforce mode), records every attempt and
// logout from the responses, and records 403s; the handlers themselves make no Trailguard call.
// Run it: see README.md beside this file.
import express from 'express';
import session from 'express-session';
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { guard, permissionDenied, recordLogouts } from 'trailguard/express';

function hashPassword(password, salt = randomBytes(16)) {
  return { salt, hash: scryptSync(password, salt, 32) };
}

/** In-memory users; passwords are scrypt hashes, as they would be in a real store. */
export function createUsers(entries) {
  const users = new Map(
    entries.map(({ id, email, password }) => [email, { id, email, ...hashPassword(password) }]),
  );
  return {
    verify(email, password) {
      const user = users.get(email);
      if (!user) return { user: null, reason: 'unknown_user' };
      const candidate = scryptSync(password, user.salt, 32);
      return timingSafeEqual(candidate, user.hash)
        ? { user, reason: null }
        : { user: null, reason: 'invalid_password', known: user };
    },
  };
}

const page = (body) =>
  `<!doctype html><meta charset="utf-8"><title>Example login</title><main>${body}</main>`;
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Builds the app around a Trailguard instance (`tg`) and a user store. */
export function createApp({ tg, users, sessionSecret = randomBytes(32).toString('hex') }) {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(
    session({
      secret: sessionSecret,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'strict' },
    }),
  );

  app.get('/', (req, res) => {
    if (req.session.userId) {
      res.send(
        page(
          `<p>Signed in as ${escape(req.session.email)}</p><form method="post" action="/logout"><button>Sign out</button></form><p><a href="/me/logins">My login history</a></p>`,
        ),
      );
      return;
    }
    res.send(
      page(
        `<form method="post" action="/login"><label>Email <input name="email" type="email" required></label><label>Password <input name="password" type="password" required></label><button>Sign in</button></form>`,
      ),
    );
  });

  // Every 403 the app answers is recorded as permission_denied.
  app.use(permissionDenied(tg, { userId: (req) => req.session.userId }));

  app.post(
    '/login',
    // Before the handler: refuse a flagged address or account (429 + Retry-After in enforce mode).
    // After it: a 3xx with res.locals.userId is a success, the 401 a failure with its reason.
    guard(tg, {
      username: (req) => req.body.email,
      record: {
        userId: (_req, res) => res.locals.userId,
        failureReason: (_req, res) => res.locals.loginFailure,
      },
    }),
    async (req, res, next) => {
      try {
        const email = String(req.body.email ?? '');
        const { user, reason, known } = users.verify(email, String(req.body.password ?? ''));
        if (!user) {
          // A wrong password is recorded against the account that exists; an unknown user without one.
          res.locals.userId = known?.id;
          res.locals.loginFailure = reason;
          res.status(401).send(page('<p>Invalid email or password.</p><a href="/">Try again</a>'));
          return;
        }
        // A fresh session id at login (session fixation); Trailguard stores only its hash.
        await new Promise((resolve, reject) =>
          req.session.regenerate((err) => (err ? reject(err) : resolve())),
        );
        req.session.userId = user.id;
        req.session.email = user.email;
        res.locals.userId = user.id;
        res.redirect(303, '/');
      } catch (err) {
        next(err);
      }
    },
  );

  app.post('/logout', recordLogouts(tg, { userId: (req) => req.session.userId }), (req, res) => {
    req.session.destroy(() => res.redirect(303, '/'));
  });

  app.get('/admin', (req, res) => {
    // Only id 1 is an administrator; anyone else gets a 403, which permissionDenied() records.
    if (req.session.userId !== '1') {
      res.status(403).send(page('<p>Administrators only.</p>'));
      return;
    }
    res.send(page('<p>Admin area</p>'));
  });

  app.get('/me/logins', async (req, res, next) => {
    try {
      if (!req.session.userId) {
        res.status(401).json({ error: 'sign in first' });
        return;
      }
      const { items } = await tg.logins.list({ userId: req.session.userId, limit: 50 });
      res.json(
        items.map(
          ({
            loginAt,
            logoutAt,
            ipAddress,
            deviceType,
            browser,
            os,
            country,
            success,
            sessionDurationSeconds,
          }) => ({
            loginAt,
            logoutAt,
            ipAddress,
            deviceType,
            browser,
            os,
            country,
            success,
            sessionDurationSeconds,
          }),
        ),
      );
    } catch (err) {
      next(err);
    }
  });

  return app;
}
