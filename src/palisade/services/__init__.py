"""The service layer: one class per area, each method one use case in one transaction."""
