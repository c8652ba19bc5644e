-- An identifier quoted for SQL text where needed.
SELECT pg_catalog.quote_ident($1)
