SELECT version, name, checksum
FROM {db}.schema_migrations FINAL
ORDER BY version
