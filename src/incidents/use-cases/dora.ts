/**
 * DORA's four key metrics by the book, from deployments and the failures they led to in production:
 * a deployment failed when it caused an incident, was rolled back, or was reverted by a later change
 * (a hotfix logged as an incident's remedy makes its incident's causes failures already). Time to
 * restore runs from an incident's start to its resolution; a failed deployment with no incident counts
 * from its deployment to its rollback or revert.
 * @module
 */
import type { DoraFigures, DoraMetrics } from '../../domain/change.ts';
import type { DeploymentFact, IncidentFact } from '../repository.ts';
import type { IncidentDeps } from './common.ts';

const HOUR = 3_600_000;

/** The median (mean of the two middle values for an even count); null when empty. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function failed(d: DeploymentFact): boolean {
  return d.causedIncident || d.rolledBackAt !== null || d.revertedAt !== null;
}

/** The four figures for one slice of deployments and incidents over a window of `days`. */
export function doraFigures(
  deployments: DeploymentFact[],
  incidents: IncidentFact[],
  days: number,
): DoraFigures {
  const failedDeployments = deployments.filter(failed);
  const restores: number[] = [];
  for (const i of incidents)
    if (i.resolvedAt) restores.push((i.resolvedAt.getTime() - i.startedAt.getTime()) / HOUR);
  for (const d of failedDeployments) {
    if (d.causedIncident) continue; // its incident's own times count
    const back = [d.rolledBackAt, d.revertedAt].filter((t): t is Date => t !== null);
    const at = Math.min(...back.map((t) => t.getTime()));
    restores.push((at - d.deployedAt.getTime()) / HOUR);
  }
  return {
    deployments: deployments.length,
    deploymentFrequency: days > 0 ? deployments.length / days : 0,
    leadTimeForChangesHours: median(
      deployments.map((d) => d.leadTimeHours).filter((h): h is number => h !== null),
    ),
    failedDeployments: failedDeployments.length,
    changeFailureRate:
      deployments.length === 0 ? null : (failedDeployments.length / deployments.length) * 100,
    incidents: incidents.length,
    timeToRestoreHours: median(restores),
  };
}

/** `dora(from, to, environment)`: the figures for one environment, and per service (affected system). */
export function computeDora(deps: IncidentDeps) {
  return async function dora(from: Date, to: Date, environment: string): Promise<DoraMetrics> {
    const [deployments, incidents] = await Promise.all([
      deps.repository.deploymentFacts(from, to, environment),
      deps.repository.incidentFacts(from, to, environment),
    ]);
    const days = (to.getTime() - from.getTime()) / 86_400_000;
    const services = [...new Set([...deployments, ...incidents].flatMap((x) => x.systems))].sort();
    return {
      environment,
      ...doraFigures(deployments, incidents, days),
      byService: services.map((service) => ({
        service,
        ...doraFigures(
          deployments.filter((d) => d.systems.includes(service)),
          incidents.filter((i) => i.systems.includes(service)),
          days,
        ),
      })),
    };
  };
}
