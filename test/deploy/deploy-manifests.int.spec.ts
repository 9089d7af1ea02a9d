import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { load, loadAll } from 'js-yaml';
import { ROLES } from '#platform';

const ROOT = new URL('../../', import.meta.url).pathname;

interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string | number>>;
  readonly ports?: readonly string[];
  readonly depends_on?: Readonly<Record<string, { readonly condition: string }>>;
  readonly healthcheck?: { readonly test: readonly string[] };
}

/**
 * Whether the code reads this environment variable: `env.NAME` or the name as a string literal
 * (`integer('NAME', …)`), not a mere mention in a comment.
 */
function readsVariable(source: string, name: string): boolean {
  return new RegExp(`env\\.${name}\\b|['"]${name}['"]`).test(source);
}

/** Every non-test TypeScript source of apps/ and libs/, as one text: what the service can read. */
function sourceText(): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.spec.ts')) texts.push(readFileSync(path, 'utf8'));
    }
  };
  walk(join(ROOT, 'apps'));
  walk(join(ROOT, 'libs'));
  return texts.join('\n');
}

/**
 * Issue 7: docker-compose.yml names only what exists — every variable it sets on Ticketflow's
 * services is one the code reads, every role one the service knows, every command a built entry
 * point, every health check a route the service serves, every dependency a service of the file —
 * so the file cannot drift from the code unnoticed (there is no Docker engine here to run it).
 */
describe('docker-compose.yml agrees with the code', () => {
  const compose = load(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
  // Compose merges `<<: *anchor` keys (YAML 1.1); js-yaml leaves them as a `<<` entry.
  const services = Object.fromEntries(
    Object.entries(compose.services).map(([name, service]) => {
      const { '<<': merged, ...own } = (service.environment ?? {}) as Record<string, string | number> & { '<<'?: Record<string, string | number> };
      return [name, { ...service, ...(service.environment ? { environment: { ...merged, ...own } } : {}) }];
    }),
  ) as Record<string, ComposeService>;
  const ticketflow = Object.entries(services).filter(([, service]) => service.build !== undefined);
  const source = sourceText();

  it('runs the stack issue 7 names: EventStoreDB, Kafka, PostgreSQL, the API and the worker', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'eventstoredb', 'kafka', 'postgres', 'worker']);
    expect(ticketflow.map(([name]) => name).sort()).toEqual(['api', 'worker']);
  });

  it('builds Ticketflow from deploy/Dockerfile and starts entry points the build produces', () => {
    for (const [name, service] of ticketflow) {
      expect({ name, dockerfile: existsSync(join(ROOT, service.build!.context, service.build!.dockerfile)) }).toEqual({ name, dockerfile: true });
      const entry = service.command?.find((part) => part.startsWith('dist/'));
      expect({ name, entry }).toEqual({ name, entry: expect.stringMatching(/^dist\/apps\/.+\.js$/) });
      const sourceFile = entry!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect({ name, source: existsSync(join(ROOT, sourceFile)) }).toEqual({ name, source: true });
    }
  });

  it('sets only variables the code reads, and roles the service knows', () => {
    for (const [name, service] of ticketflow) {
      for (const variable of Object.keys(service.environment ?? {})) {
        expect({ service: name, variable, readByTheCode: readsVariable(source, variable) }).toEqual({ service: name, variable, readByTheCode: true });
      }
      const roles = String(service.environment?.TICKETFLOW_ROLES ?? '').split(',');
      for (const role of roles) expect([...ROLES, 'worker']).toContain(role);
    }
    expect(services.api!.environment!.TICKETFLOW_ROLES).toBe('api');
    expect(services.worker!.environment!.TICKETFLOW_ROLES).toBe('worker');
  });

  it('publishes the API on its PORT and checks health on routes the service serves', () => {
    const api = services.api!;
    expect(api.ports).toContain(`${api.environment!.PORT}:${api.environment!.PORT}`);
    expect(api.ports).toContain(`${api.environment!.GRPC_PORT}:${api.environment!.GRPC_PORT}`);
    const health = readFileSync(join(ROOT, 'apps/api/src/health/health.controller.ts'), 'utf8');
    for (const [name, service] of ticketflow) {
      const probe = service.healthcheck!.test.join(' ');
      const route = /\/health\/(\w+)/.exec(probe)?.[1];
      expect({ name, route }).toEqual({ name, route: expect.any(String) });
      expect(health).toContain(`@Get('${route}')`);
      expect(probe).toContain(`:${service.environment!.PORT}/`);
    }
  });

  it('starts each service after services of this file', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        expect({ name, dependency, known: dependency in services }).toEqual({ name, dependency, known: true });
        expect(services[dependency]!.healthcheck).toBeDefined();
      }
    }
  });

  it('points the services at the servers of this file', () => {
    const env = services.api!.environment!;
    expect(String(env.DATABASE_URL)).toMatch(/@postgres:5432\//);
    expect(String(env.EVENTSTORE_CONNECTION_STRING)).toMatch(/^esdb:\/\/eventstoredb:2113\?tls=false$/);
    expect(String(env.KAFKA_BROKERS)).toBe('kafka:9092');
  });
});

interface K8sObject {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly data?: Record<string, string>;
  readonly stringData?: Record<string, string>;
  readonly spec?: Record<string, unknown>;
}

interface Container {
  readonly name: string;
  readonly command?: readonly string[];
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value?: string }>;
  readonly envFrom?: ReadonlyArray<{ readonly configMapRef?: { readonly name: string }; readonly secretRef?: { readonly name: string } }>;
  readonly ports?: ReadonlyArray<{ readonly name?: string; readonly containerPort: number }>;
  readonly readinessProbe?: { readonly httpGet?: { readonly path: string; readonly port: string | number } };
  readonly livenessProbe?: { readonly httpGet?: { readonly path: string; readonly port: string | number } };
  readonly startupProbe?: { readonly httpGet?: { readonly path: string; readonly port: string | number } };
}

/** Issue 7: the Kubernetes manifests, held to the code the same way as docker-compose.yml. */
describe('deploy/k8s agrees with the code', () => {
  const dir = join(ROOT, 'deploy/k8s');
  const objects = readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .flatMap((name) => loadAll(readFileSync(join(dir, name), 'utf8')) as K8sObject[]);
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const source = sourceText();
  const health = readFileSync(join(ROOT, 'apps/api/src/health/health.controller.ts'), 'utf8');
  const deployments = byKind('Deployment');
  const containersOf = (d: K8sObject) => ((d.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers);

  it('has a Deployment for the API (with an HPA and a Service) and one for the worker', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['ticketflow-api', 'ticketflow-worker']);
    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.map((h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name)).toEqual(['ticketflow-api']);
    for (const service of byKind('Service')) {
      const selector = (service.spec as { selector: Record<string, string> }).selector;
      expect(deployments.some((d) => Object.entries(selector).every(([k, v]) => d.metadata.labels?.[k] === v))).toBe(true);
    }
  });

  it('sets only variables the code reads, from a ConfigMap and a Secret that exist', () => {
    const configMaps = new Map(byKind('ConfigMap').map((c) => [c.metadata.name, c]));
    const secrets = new Map(byKind('Secret').map((s) => [s.metadata.name, s]));
    for (const deployment of deployments) {
      for (const container of containersOf(deployment)) {
        const names = (container.env ?? []).map((e) => e.name);
        for (const from of container.envFrom ?? []) {
          if (from.configMapRef) {
            const map = configMaps.get(from.configMapRef.name);
            expect({ configMap: from.configMapRef.name, exists: map !== undefined }).toEqual({ configMap: from.configMapRef.name, exists: true });
            names.push(...Object.keys(map!.data ?? {}));
          }
          if (from.secretRef) {
            const secret = secrets.get(from.secretRef.name);
            expect({ secret: from.secretRef.name, exists: secret !== undefined }).toEqual({ secret: from.secretRef.name, exists: true });
            names.push(...Object.keys(secret!.stringData ?? {}));
          }
        }
        for (const variable of names) {
          expect({ container: container.name, variable, readByTheCode: readsVariable(source, variable) }).toEqual({ container: container.name, variable, readByTheCode: true });
        }
        const roles = String(container.env?.find((e) => e.name === 'TICKETFLOW_ROLES')?.value ?? '').split(',');
        for (const role of roles) expect([...ROLES, 'worker']).toContain(role);
      }
    }
  });

  it('starts entry points the build produces, on the configured PORT, probed on routes the service serves', () => {
    const port = Number(byKind('ConfigMap').find((c) => c.data?.PORT)!.data!.PORT);
    for (const deployment of deployments) {
      for (const container of containersOf(deployment)) {
        const entry = container.command?.find((part) => part.startsWith('dist/'));
        expect(existsSync(join(ROOT, entry!.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
        const named = new Map((container.ports ?? []).map((p) => [p.name, p.containerPort]));
        expect([...named.values()]).toContain(port);
        for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
          if (!probe?.httpGet) continue;
          const route = /^\/health\/(\w+)$/.exec(probe.httpGet.path)?.[1];
          expect({ container: container.name, path: probe.httpGet.path, served: route !== undefined && health.includes(`@Get('${route}')`) }).toEqual({
            container: container.name,
            path: probe.httpGet.path,
            served: true,
          });
          const probed = typeof probe.httpGet.port === 'number' ? probe.httpGet.port : named.get(probe.httpGet.port);
          expect(probed).toBe(port);
        }
        // The API container also exposes the gRPC port the ConfigMap sets, and the Service routes to it.
        if (container.env?.some((e) => e.name === 'TICKETFLOW_ROLES' && (e.value ?? '').split(',').includes('api'))) {
          expect(named.get('grpc')).toBe(Number(byKind('ConfigMap').find((c) => c.data?.GRPC_PORT)!.data!.GRPC_PORT));
          const service = byKind('Service').find((s) => s.metadata.name === deployment.metadata.name);
          expect((service?.spec as { ports?: unknown } | undefined)?.ports).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'grpc', targetPort: 'grpc' })]));
        }
        expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
        expect(container.livenessProbe?.httpGet?.path).toBe('/health/live');
      }
    }
  });
});
