"""One module an incident, each with `NAME`, `HISTORICAL` (the public record's figure, with
the source in docs/threat-model.md) and `run(ctx) -> IncidentResult`."""
