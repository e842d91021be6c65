-- revision: {{revision}}
-- down_revision: {{downRevisionSql}}
-- message: {{messageLine}}
-- branch_labels: {{branchLabelsSql}}
-- depends_on: {{dependsOnSql}}
-- transactional: true
-- created: {{created}}

-- migrate:up

-- migrate:down

