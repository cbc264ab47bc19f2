"""A synthetic demo population: people, a clustered friendship graph, messages."""
