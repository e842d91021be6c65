export { withTenant, tenantId, TENANT_SETTING, NO_TENANT } from './with-tenant.js';
