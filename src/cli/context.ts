/**
 * Shared CLI plumbing: turn the global options into a Trailguard instance, and print results.
 * @module
 */
import type { Command } from 'commander';
import { createTrailguard } from '../trailguard.ts';
import type { Trailguard } from '../trailguard.ts';
import type { TrailguardOptions } from '../config.ts';

/** Global options every command accepts. */
export interface GlobalOptions {
  databaseUrl?: string;
  dataDir?: string;
  config?: string;
}

/** The root command's options, from any subcommand. */
export function globalOptions(cmd: Command): GlobalOptions {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  return root.opts<GlobalOptions>();
}

/** The Trailguard options the global CLI options stand for. */
export function cliOptions(cmd: Command): TrailguardOptions {
  const g = globalOptions(cmd);
  return {
    ...(g.databaseUrl ? { databaseUrl: g.databaseUrl } : {}),
    ...(g.dataDir ? { dataDir: g.dataDir } : {}),
    ...(g.config ? { configFile: g.config } : {}),
  };
}

/** Opens Trailguard with the global options (env and config file fill the rest). */
export async function openFromCli(cmd: Command, extra: TrailguardOptions = {}): Promise<Trailguard> {
  return createTrailguard({ ...cliOptions(cmd), ...extra });
}

/** Runs `fn` with an open instance and always closes it. */
export async function withTrailguard<T>(
  cmd: Command,
  fn: (tg: Trailguard) => Promise<T>,
  extra: TrailguardOptions = {},
): Promise<T> {
  const tg = await openFromCli(cmd, extra);
  try {
    return await fn(tg);
  } finally {
    await tg.close();
  }
}
