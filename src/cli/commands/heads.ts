import type { RegisterCommand } from './types.js';

/** Not written yet: registers nothing. */
export const register: RegisterCommand = () => {};
