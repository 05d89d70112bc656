/**
 * User-agent parsing: browser, OS and device class via ua-parser-js 1.x (MIT) and isbot, behind an LRU
 * cache because real traffic repeats a few hundred agents.
 * @module
 */
import { UAParser } from 'ua-parser-js';
import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';
import type { DeviceType } from '../domain/login.ts';

/** What Trailguard keeps of a user agent. */
export interface ParsedUserAgent {
  browser: string | null;
  browserVersion: string | null;
  os: string | null;
  deviceType: DeviceType;
}

const UNKNOWN: ParsedUserAgent = Object.freeze({
  browser: null,
  browserVersion: null,
  os: null,
  deviceType: 'unknown',
});

const DESKTOP_OS =
  /^(windows|mac ?os|linux|ubuntu|debian|fedora|chrom(e|ium) ?os|freebsd|openbsd|netbsd|solaris|mint|arch|gentoo|suse|red ?hat|centos|mandriva|slackware)/i;

/** Creates a cached parser. `cacheSize` bounds memory under a flood of unique agents. */
export function createUserAgentParser(
  cacheSize = 5000,
): (userAgent: string | null | undefined) => ParsedUserAgent {
  const cache = new LRUCache<string, ParsedUserAgent>({ max: cacheSize });
  return (userAgent) => {
    if (!userAgent) return UNKNOWN;
    const hit = cache.get(userAgent);
    if (hit) return hit;
    const parsed = parse(userAgent);
    cache.set(userAgent, parsed);
    return parsed;
  };
}

function parse(ua: string): ParsedUserAgent {
  const r = new UAParser(ua).getResult();
  const browser = r.browser.name ?? null;
  const browserVersion = r.browser.version ?? null;
  const os = r.os.name ? (r.os.version ? `${r.os.name} ${r.os.version}` : r.os.name) : null;
  let deviceType: DeviceType;
  if (isbot(ua)) deviceType = 'bot';
  else if (r.device.type === 'mobile' || r.device.type === 'wearable') deviceType = 'mobile';
  else if (r.device.type === 'tablet') deviceType = 'tablet';
  else if (r.device.type)
    deviceType = 'unknown'; // console, smarttv, embedded
  else if ((r.os.name && DESKTOP_OS.test(r.os.name)) || (browser && !r.os.name)) deviceType = 'desktop';
  else deviceType = 'unknown';
  return Object.freeze({ browser, browserVersion, os, deviceType });
}
