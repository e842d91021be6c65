import { describe, expect, it } from 'vitest';
import { searchPathSchemas } from '../../src/tenant/roles.js';

describe('searchPathSchemas: a search_path value as the server splits it', () => {
  it('folds unquoted names, keeps quoted ones with their commas and doubled quotes', () => {
    expect(searchPathSchemas('"$user", public')).toEqual(['$user', 'public']);
    expect(searchPathSchemas('Ops ,PUBLIC')).toEqual(['ops', 'public']);
    expect(searchPathSchemas('"My, ""Ops""", pg_catalog')).toEqual(['My, "Ops"', 'pg_catalog']);
    expect(searchPathSchemas('')).toEqual([]);
  });
});
