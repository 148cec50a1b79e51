/**
 * Compile-time check of the dashboards against Grafana's own dashboard type (`@grafana/schema`): `tsc -b` fails on a
 * field of the wrong type, a required field missing, or a field Grafana does not know (a misspelt key). Nothing here
 * runs; the dashboards stay plain JSON for Grafana's file provisioning.
 */
import type { AnnotationQuery, Dashboard } from '@grafana/schema';
import pipelineHealth from './dashboards/vigie-pipeline-health.json' with { type: 'json' };
import securityOverview from './dashboards/vigie-security-overview.json' with { type: 'json' };

/**
 * `T` with its string-literal unions widened to `string`: TypeScript types every string of an imported JSON file as
 * `string`, so `"type": "timeseries"` could never match a union of literals.
 */
export type Widened<T> = T extends string
  ? string
  : T extends readonly (infer U)[]
    ? Widened<U>[]
    : T extends object
      ? { [K in keyof T]: Widened<T[K]> }
      : T;

/** `A` where every key must also be a key of `E`, recursively (`never` marks a key `E` does not have). */
export type Exact<A, E> = A extends readonly (infer AI)[]
  ? E extends readonly (infer EI)[]
    ? Exact<AI, EI>[]
    : E
  : A extends object
    ? E extends object
      ? { [K in keyof A]: K extends keyof E ? Exact<A[K], E[K]> : never }
      : E
    : E;

/**
 * The fields of a Prometheus annotation query. `@grafana/schema` types `AnnotationQuery` for Grafana's built-in
 * annotations only; Prometheus's are these (Grafana moves `expr` and `step` into `target` when it loads them).
 */
export interface PrometheusAnnotationFields {
  expr?: string;
  step?: string;
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
}

/** Grafana's dashboard model as a JSON file can satisfy it (with Prometheus annotation queries). */
export type DashboardJson = Widened<
  Omit<Dashboard, 'annotations'> & { annotations?: { list?: (AnnotationQuery & PrometheusAnnotationFields)[] } }
>;

/** Every dashboard in `grafana/dashboards/`, checked. */
export const DASHBOARDS = {
  'vigie-security-overview.json': securityOverview satisfies DashboardJson satisfies Exact<
    typeof securityOverview,
    DashboardJson
  >,
  'vigie-pipeline-health.json': pipelineHealth satisfies DashboardJson satisfies Exact<
    typeof pipelineHealth,
    DashboardJson
  >,
};

// The check catches what it is for (a build that passes these lines proves it).
const misspelt = { ...pipelineHealth, refersh: '10s' };
// @ts-expect-error a key Grafana does not know
export const _misspelt = misspelt satisfies Exact<typeof misspelt, DashboardJson>;
const wrongType = { ...pipelineHealth, schemaVersion: '39' };
// @ts-expect-error a field of the wrong type
export const _wrongType = wrongType satisfies DashboardJson;
const panelMisspelt = {
  ...pipelineHealth,
  panels: [{ ...pipelineHealth.panels[0]!, gridpos: { x: 0, y: 0, w: 1, h: 1 } }],
};
// @ts-expect-error a misspelt key deep inside a panel
export const _panelMisspelt = panelMisspelt satisfies Exact<typeof panelMisspelt, DashboardJson>;
