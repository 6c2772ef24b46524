"""The engine: declared state from every registered kind, live state in a constant number of queries,
their differences, the plan and its application (in waves, under the deploy lock, recorded in the
deploy history), the committed files and the offline checks. It iterates `incidents.kinds.REGISTRY`
and names no kind and no feature."""
