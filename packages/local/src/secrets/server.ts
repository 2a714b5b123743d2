import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../config.js';
import { LocalSecretsFileError } from './errors.js';
import { type LocalParameter, type LocalSecretsContents, readSecretsFile } from './store.js';

/**
 * SSM Parameter Store (GetParameter, GetParameters) and Secrets Manager
 * (GetSecretValue) as the AWS SDK and CLI call them: awsJson1_1, `POST /` with
 * `X-Amz-Target`, errors as `{"__type", "message"}` with HTTP 400. One endpoint
 * serves both; the functions get it as `AWS_ENDPOINT_URL_SSM` and
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`. Values come from a local file (store.ts).
 */
export interface LocalSecretsServer {
  readonly endpoint: string;
  readonly file: string;
  stop(): Promise<void>;
}

const JSON_1_1 = 'application/x-amz-json-1.1';
/** When the file last changed is not tracked: a fixed date keeps responses stable. */
const CREATED = Date.parse('2026-01-01T00:00:00Z') / 1000;
/** Names a SecureString read without decryption; real SSM returns ciphertext there. */
const ENCRYPTED_PLACEHOLDER = 'AQICAHi-local-ciphertext';

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function parameterArn(name: string): string {
  const path = name.startsWith('/') ? name.slice(1) : name;
  return `arn:aws:ssm:${LOCAL_REGION}:${LOCAL_ACCOUNT}:parameter/${path}`;
}

function secretArn(name: string): string {
  // Real ARNs end in - and six random characters; a stable suffix keeps them comparable.
  return `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${name}-local0`;
}

/** A parameter at one version, and the selector (`:2`) it was asked for with. */
interface SelectedParameter {
  readonly parameter: LocalParameter;
  readonly version: number;
  readonly selector?: string;
}

function parameterDocument(selected: SelectedParameter, decrypt: boolean) {
  const { parameter, version } = selected;
  const value = parameter.versions[version - 1] ?? parameter.value;
  return {
    Name: parameter.name,
    Type: parameter.type,
    Value: parameter.type === 'SecureString' && !decrypt ? ENCRYPTED_PLACEHOLDER : value,
    Version: version,
    ...(selected.selector !== undefined ? { Selector: selected.selector } : {}),
    ARN: parameterArn(parameter.name),
    LastModifiedDate: CREATED,
    DataType: 'text',
  };
}

/**
 * What GetParameter accepts as Name, as AWS does: the name, the parameter's ARN, and
 * either followed by `:version` (`/a/b:2`). Names cannot hold `:`, so the last one
 * starts the selector. Labels (`name:label`) are not modelled: such a name is not found.
 */
function parameterReference(reference: string): { names: string[]; selector?: string } {
  const arn = /^arn:[^:]+:ssm:[^:]*:[^:]*:parameter(\/.*)$/.exec(reference)?.[1];
  const rest = arn ?? reference;
  const colon = rest.lastIndexOf(':');
  const name = colon === -1 ? rest : rest.slice(0, colon);
  const selector = colon === -1 ? undefined : rest.slice(colon);
  // An ARN names `/a/b` as `parameter/a/b` and `plain` as `parameter/plain`.
  const names = arn !== undefined ? [name, name.slice(1)] : [name];
  return { names, ...(selector !== undefined ? { selector } : {}) };
}

function selectParameter(
  store: LocalSecretsContents,
  reference: string,
): SelectedParameter | undefined {
  const { names, selector } = parameterReference(reference);
  const parameter = names.map((name) => store.parameter(name)).find((found) => found !== undefined);
  if (!parameter) return undefined;
  if (selector === undefined) return { parameter, version: parameter.versions.length };
  const version = /^:\d+$/.test(selector) ? Number(selector.slice(1)) : Number.NaN;
  if (!Number.isInteger(version)) return undefined;
  if (version < 1 || version > parameter.versions.length) {
    throw new ApiError(
      'ParameterVersionNotFound',
      `Systems Manager could not find version ${version} of ${parameter.name}. Verify the version and try again.`,
    );
  }
  return { parameter, version, selector };
}

/** The name a reference resolves to (for the denied list), else the reference. */
function referencedName(store: LocalSecretsContents, reference: string): string {
  const { names } = parameterReference(reference);
  return names.find((name) => store.parameter(name) !== undefined) ?? names[0] ?? reference;
}

function denied(reference: string, action: string, arn: string): ApiError {
  return new ApiError(
    'AccessDeniedException',
    `User: arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/local is not authorized to perform: ${action} on resource: ${arn} (denied in the local secrets file: ${reference})`,
  );
}

function stringField(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '') {
    throw new ApiError('ValidationException', `${field} must be a non-empty string`);
  }
  return value;
}

function getParameter(store: LocalSecretsContents, input: Record<string, unknown>) {
  const reference = stringField(input, 'Name');
  const name = referencedName(store, reference);
  if (store.denied(`ssm:${name}`))
    throw denied(`ssm:${name}`, 'ssm:GetParameter', parameterArn(name));
  const selected = selectParameter(store, reference);
  if (!selected) throw new ApiError('ParameterNotFound', `Parameter ${reference} not found.`);
  return { Parameter: parameterDocument(selected, input.WithDecryption === true) };
}

function getParameters(store: LocalSecretsContents, input: Record<string, unknown>) {
  const names = input.Names;
  if (!Array.isArray(names) || names.length < 1 || names.length > 10) {
    throw new ApiError('ValidationException', 'Names must hold 1 to 10 parameter names');
  }
  const found = [];
  const invalid: string[] = [];
  for (const name of names) {
    if (typeof name !== 'string')
      throw new ApiError('ValidationException', 'Names must be strings');
    const resolved = referencedName(store, name);
    if (store.denied(`ssm:${resolved}`)) {
      throw denied(`ssm:${resolved}`, 'ssm:GetParameters', parameterArn(resolved));
    }
    const selected = selectParameter(store, name);
    if (selected) found.push(parameterDocument(selected, input.WithDecryption === true));
    else invalid.push(name);
  }
  return { Parameters: found, InvalidParameters: invalid };
}

function getSecretValue(store: LocalSecretsContents, input: Record<string, unknown>) {
  const id = stringField(input, 'SecretId');
  const stage = input.VersionStage;
  const secret = store.secret(id);
  const reference = `secretsmanager:${secret?.name ?? id}`;
  if (store.denied(reference) || store.denied(`secretsmanager:${id}`)) {
    throw denied(reference, 'secretsmanager:GetSecretValue', secret ? secretArn(secret.name) : id);
  }
  if (!secret || (stage !== undefined && stage !== 'AWSCURRENT') || input.VersionId !== undefined) {
    throw new ApiError(
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret.",
    );
  }
  return {
    ARN: secretArn(secret.name),
    Name: secret.name,
    VersionId: '00000000-0000-4000-8000-000000000001',
    SecretString: secret.secretString,
    VersionStages: ['AWSCURRENT'],
    CreatedDate: CREATED,
  };
}

const OPERATIONS: Record<
  string,
  (store: LocalSecretsContents, input: Record<string, unknown>) => unknown
> = {
  'AmazonSSM.GetParameter': getParameter,
  'AmazonSSM.GetParameters': getParameters,
  'secretsmanager.GetSecretValue': getSecretValue,
};

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function answer(file: string, req: IncomingMessage): Promise<unknown> {
  const target = req.headers['x-amz-target'];
  const operation = typeof target === 'string' ? OPERATIONS[target] : undefined;
  if (req.method !== 'POST' || operation === undefined) {
    throw new ApiError(
      'UnknownOperationException',
      `the local secrets endpoint serves ${Object.keys(OPERATIONS).join(', ')}`,
    );
  }
  let input: unknown;
  try {
    input = JSON.parse((await body(req)) || '{}');
  } catch {
    throw new ApiError('SerializationException', 'the request body is not JSON');
  }
  if (typeof input !== 'object' || input === null) {
    throw new ApiError('SerializationException', 'the request body is not a JSON object');
  }
  let store: LocalSecretsContents;
  try {
    store = await readSecretsFile(file);
  } catch (error) {
    if (error instanceof LocalSecretsFileError) {
      throw new ApiError('InternalServerError', error.message, 500);
    }
    throw error;
  }
  return operation(store, input as Record<string, unknown>);
}

function send(res: ServerResponse, status: number, document: unknown, type?: string) {
  res.writeHead(status, {
    'content-type': JSON_1_1,
    'x-amzn-requestid': randomUUID(),
    ...(type ? { 'x-amzn-errortype': type } : {}),
  });
  res.end(JSON.stringify(document));
}

/** Starts the endpoint on 127.0.0.1 (`port` 0: a free one). */
export async function startLocalSecrets(options: {
  readonly file: string;
  readonly port?: number;
}): Promise<LocalSecretsServer> {
  const server = createServer((req, res) => {
    answer(options.file, req).then(
      (document) => send(res, 200, document),
      (error: unknown) => {
        const failure =
          error instanceof ApiError
            ? error
            : new ApiError('InternalServerError', 'the local secrets endpoint failed', 500);
        send(res, failure.status, { __type: failure.type, message: failure.message }, failure.type);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    file: options.file,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
