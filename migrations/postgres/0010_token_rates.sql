-- A token's own budget of tool calls per minute: NULL follows the shop's RD_TOOL_RATE_PER_MINUTE,
-- 0 is unlimited (load tests, a trusted batch importer).
ALTER TABLE api_tokens ADD COLUMN calls_per_minute INTEGER;
