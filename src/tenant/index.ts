export { withTenant, tenantId, TENANT_SETTING } from './with-tenant.js';
