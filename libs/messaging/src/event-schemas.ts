import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The published contract of every event type and version (issue 5, api.md `GET /v1/schemas`):
 * one JSON Schema (draft 2020-12) per `<type>.v<schemaVersion>.schema.json`, each describing
 * the whole envelope as stored, hashed and published to Kafka. The committed files are the
 * contract; `event-schemas.unit.spec.ts` holds them to the events `decide` produces.
 */
export interface EventSchema {
  readonly type: string;
  readonly schemaVersion: number;
  readonly schema: Readonly<Record<string, unknown>>;
}

const FILE_NAME = /^(?<type>.+)\.v(?<version>[1-9]\d*)\.schema\.json$/;

/**
 * Where the schema files are. swc copies no JSON into dist/, so the built module
 * (dist/libs/messaging/src/) reads them from the repository's libs/messaging/schemas/,
 * as the source module (libs/messaging/src/, under jest) does beside itself.
 */
const SCHEMA_DIRECTORIES = [new URL('../schemas/', import.meta.url), new URL('../../../../libs/messaging/schemas/', import.meta.url)].map((url) =>
  fileURLToPath(url),
);

export function eventSchemasDirectory(): string {
  const directory = SCHEMA_DIRECTORIES.find((candidate) => existsSync(candidate));
  if (!directory) throw new Error(`no event schemas found in ${SCHEMA_DIRECTORIES.join(' or ')}`);
  return directory;
}

let loaded: readonly EventSchema[] | undefined;

/** Every schema, sorted by type then version; read once per process. */
export function eventSchemas(): readonly EventSchema[] {
  loaded ??= readEventSchemas(eventSchemasDirectory());
  return loaded;
}

/** The schema of one event type and version, or undefined when none is published. */
export function eventSchema(type: string, schemaVersion: number): EventSchema | undefined {
  return eventSchemas().find((s) => s.type === type && s.schemaVersion === schemaVersion);
}

/**
 * Reads the schema files of `directory`. A file whose `type` / `schemaVersion` constants
 * disagree with its name is an error: the name is how consumers and the API find it.
 */
export function readEventSchemas(directory: string): readonly EventSchema[] {
  const schemas = readdirSync(directory)
    .filter((file) => file.endsWith('.schema.json'))
    .map((file): EventSchema => {
      const match = FILE_NAME.exec(file);
      if (!match?.groups) throw new Error(`event schema ${file}: the name must be <type>.v<version>.schema.json`);
      const schema = JSON.parse(readFileSync(`${directory}/${file}`, 'utf8')) as Record<string, unknown>;
      const type = match.groups.type!;
      const schemaVersion = Number(match.groups.version);
      const properties = (schema.properties ?? {}) as Record<string, { const?: unknown } | undefined>;
      if (properties.type?.const !== type || properties.schemaVersion?.const !== schemaVersion) {
        throw new Error(`event schema ${file}: properties.type and properties.schemaVersion must be the constants ${type} and ${schemaVersion}`);
      }
      return { type, schemaVersion, schema };
    });
  return schemas.sort((a, b) => (a.type === b.type ? a.schemaVersion - b.schemaVersion : a.type < b.type ? -1 : 1));
}
