/**
 * ESM resolve hook for revision files kept outside a Node project (a migrations folder with no
 * node_modules nearby): a bare import such as 'kysely' that cannot be found from the file is
 * resolved from cmmc-db's own dependencies instead. Registered by script.ts with module.register.
 */
interface ResolveContext {
  parentURL?: string;
  conditions?: string[];
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<unknown>;

let fallbackParent: string | undefined;

export async function initialize(data: { parentURL: string }): Promise<void> {
  fallbackParent = data.parentURL;
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<unknown> {
  try {
    return await next(specifier, context);
  } catch (err) {
    const bare = !/^(\.|\/|[a-z]+:)/i.test(specifier);
    if (bare && fallbackParent && (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      return next(specifier, { ...context, parentURL: fallbackParent });
    }
    throw err;
  }
}
