import path from 'node:path';

/** Where a setting came from, used to name it in error messages. */
type Source = { flag: string; env: string };

/** The one parsed configuration object. Built once at start and passed down. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  trustProxy: boolean;
  databaseUrl: string | undefined;
  databaseSchema: string | undefined;
  redisUrl: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logRequests: boolean;
  bodyLimitBytes: number;
  /** Start the in-process job worker alongside the API (embedded mode, `serve --role all`). */
  role: 'all' | 'api';
  /** Milliseconds a server waits for in-flight requests on shutdown before closing sockets. */
  shutdownTimeoutMs: number;
}

/** Raw values as given on the command line (strings or booleans). */
export type ConfigFlags = Partial<Record<keyof Config, string | boolean | number | undefined>>;

/** A setting that cannot be used; the message names the flag and environment variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const sources: Record<keyof Config, Source> = {
  host: { flag: '--host', env: 'KAIRO_HOST' },
  port: { flag: '--port', env: 'KAIRO_PORT' },
  dataDir: { flag: '--data', env: 'KAIRO_DATA_DIR' },
  tlsCert: { flag: '--tls-cert', env: 'KAIRO_TLS_CERT' },
  tlsKey: { flag: '--tls-key', env: 'KAIRO_TLS_KEY' },
  trustProxy: { flag: '--trust-proxy', env: 'KAIRO_TRUST_PROXY' },
  databaseUrl: { flag: '--database-url', env: 'KAIRO_DATABASE_URL' },
  databaseSchema: { flag: '--database-schema', env: 'KAIRO_DATABASE_SCHEMA' },
  redisUrl: { flag: '--redis-url', env: 'KAIRO_REDIS_URL' },
  logLevel: { flag: '--log-level', env: 'KAIRO_LOG_LEVEL' },
  logRequests: { flag: '--log-requests', env: 'KAIRO_LOG_REQUESTS' },
  bodyLimitBytes: { flag: '--body-limit', env: 'KAIRO_BODY_LIMIT' },
  role: { flag: '--role', env: 'KAIRO_ROLE' },
  shutdownTimeoutMs: { flag: '--shutdown-timeout', env: 'KAIRO_SHUTDOWN_TIMEOUT_MS' },
};

function describe(key: keyof Config): string {
  return `${sources[key].flag} / ${sources[key].env}`;
}

/**
 * Build the configuration: command-line flag, then `KAIRO_*` environment variable, then default.
 * Throws ConfigError naming the first bad setting.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw = (key: keyof Config): string | boolean | number | undefined => {
    const flag = flags[key];
    if (flag !== undefined) return flag;
    const fromEnv = env[sources[key].env];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };

  const str = (key: keyof Config, fallback?: string): string | undefined => {
    const value = raw(key);
    if (value === undefined) return fallback;
    return String(value);
  };

  const int = (key: keyof Config, fallback: number, min: number, max: number): number => {
    const value = raw(key);
    if (value === undefined) return fallback;
    const parsed = typeof value === 'number' ? value : Number(String(value));
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new ConfigError(`Invalid ${describe(key)}: "${value}" is not a whole number from ${min} to ${max}.`);
    }
    return parsed;
  };

  const bool = (key: keyof Config): boolean => {
    const value = raw(key);
    if (value === undefined) return false;
    if (typeof value === 'boolean') return value;
    const text = String(value).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    throw new ConfigError(`Invalid ${describe(key)}: "${value}" is not true or false.`);
  };

  const oneOf = <T extends string>(key: keyof Config, allowed: readonly T[], fallback: T): T => {
    const value = str(key);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new ConfigError(`Invalid ${describe(key)}: "${value}" must be one of ${allowed.join(', ')}.`);
    }
    return value as T;
  };

  const url = (key: keyof Config, protocols: string[]): string | undefined => {
    const value = str(key);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(`Invalid ${describe(key)}: not a URL.`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(`Invalid ${describe(key)}: the scheme must be ${protocols.join(' or ')}.`);
    }
    return value;
  };

  const tlsCert = str('tlsCert');
  const tlsKey = str('tlsKey');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(`Invalid ${describe(tlsCert ? 'tlsKey' : 'tlsCert')}: --tls-cert and --tls-key go together.`);
  }

  const databaseSchema = str('databaseSchema');
  if (databaseSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) {
    throw new ConfigError(`Invalid ${describe('databaseSchema')}: use lowercase letters, digits and underscores.`);
  }

  return {
    host: str('host', '127.0.0.1')!,
    port: int('port', 8080, 0, 65535),
    dataDir: path.resolve(str('dataDir', './data')!),
    tlsCert,
    tlsKey,
    trustProxy: bool('trustProxy'),
    databaseUrl: url('databaseUrl', ['postgres:', 'postgresql:']),
    databaseSchema,
    redisUrl: url('redisUrl', ['redis:', 'rediss:']),
    logLevel: oneOf('logLevel', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    logRequests: bool('logRequests'),
    bodyLimitBytes: int('bodyLimitBytes', 1024 * 1024, 1024, 100 * 1024 * 1024),
    role: oneOf('role', ['all', 'api'] as const, 'all'),
    shutdownTimeoutMs: int('shutdownTimeoutMs', 10_000, 0, 600_000),
  };
}
