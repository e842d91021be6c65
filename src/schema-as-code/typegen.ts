/** Types from the schema: filled in by a later slice. */
import path from 'node:path';
import type { CmmcConfig } from '../config/config.js';
import { CmmcError } from '../errors.js';

export function typesFilePath(config: CmmcConfig, file?: string): string {
  return path.resolve(file ?? path.join(config.projectDir, 'src', 'schema', 'database.ts'));
}

export async function generateHeadTypes(_config: CmmcConfig): Promise<string> {
  throw new CmmcError('schema.types', 'schema types is not built yet');
}
