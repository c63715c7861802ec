"""Azure DevOps REST: the client, its models and errors, and demand matching."""
