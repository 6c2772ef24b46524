"""incidents: schema-as-code for an ecommerce incident-management warehouse on Snowflake."""

__version__ = "0.1.0"
