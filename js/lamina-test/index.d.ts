export interface Invocation {
  request_id: string; function: string; qualifier: string | null; version: string;
  status: 'Success' | 'Error' | 'Throttled'; error_type: string | null; duration_ms: number;
  init_type: string | null; cold: boolean; payload_bytes_in: number; payload_bytes_out: number;
  started_ms: number; ended_ms: number;
}
export interface InvocationsQuery { function?: string; qualifier?: string; limit?: number }
export interface InvokeResult { statusCode: number; functionError?: string; executedVersion?: string; payload: unknown }
export interface StartOptions { bin?: string; args?: string[]; timeoutMs?: number; exportEnv?: boolean; env?: NodeJS.ProcessEnv }
export class LaminaError extends Error {}
export class Lamina {
  readonly endpoint: string; readonly region: string; readonly accountId: string; readonly version?: string;
  readonly owned: boolean; readonly pid: number | null; readonly logPath: string | null;
  environment(): Record<string, string>;
  stop(options?: { timeoutMs?: number }): Promise<void>;
  health(): Promise<Record<string, unknown>>;
  reset(): Promise<{ reset: true; functions: number; environments: number; took_ms: number }>;
  invocations(query?: InvocationsQuery | string): Promise<Invocation[]>;
  invoke(functionName: string, payload?: unknown, options?: { qualifier?: string; invocationType?: string }): Promise<InvokeResult>;
  logs(functionName: string, options?: { filterPattern?: string; logGroup?: string; waitFor?: string; timeoutMs?: number }): Promise<string[]>;
  deploy(template: string, options?: { parameters?: Record<string, string | number>; stackName?: string; region?: string; timeoutMs?: number }): Promise<string>;
  deleteStack(stackName: string, options?: { region?: string; timeoutMs?: number }): Promise<string>;
  logTail(chars?: number): string;
}
export function startLamina(options?: StartOptions): Promise<Lamina>;
export function stop(): Promise<void>;
export function reset(): ReturnType<Lamina['reset']>;
export function invocations(query?: InvocationsQuery | string): Promise<Invocation[]>;
export function invoke(functionName: string, payload?: unknown, options?: { qualifier?: string; invocationType?: string }): Promise<InvokeResult>;
export function logs(functionName: string, options?: Parameters<Lamina['logs']>[1]): Promise<string[]>;
export function deploy(template: string, options?: Parameters<Lamina['deploy']>[1]): Promise<string>;
export function current(): Lamina | null;
export function findBinary(explicit?: string): string | null;
export function version(bin?: string): string;
