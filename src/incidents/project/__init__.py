"""Config: YAML in config/ read into frozen models (with file, key and line in every error), and the
Deployment that binds a project to one of its environments."""
