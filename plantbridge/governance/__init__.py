"""Contract governance: committed OpenAPI documents, the breaking-change check against released
documents, and the governance lint (`plantbridge contracts {export,check,lint,diff,release}`)."""
