"""Key management and encryption of personal data at rest."""
