"""The SQL layer: the one identifier function, the one literal function, Snowflake's types and lexer,
the Jinja environment templates render in, the parser that checks statements offline, and the
statement runner (Session). Imports nothing else of the package but errors."""
