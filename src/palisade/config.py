"""Configuration from the environment and `.env` (pydantic-settings), prefix PALISADE_."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(Exception):
    """The settings are inconsistent; the message says which one to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PALISADE_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".palisade"), description="Where the SQLite database and keys live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite in PALISADE_HOME. "
        "Production: postgresql+psycopg://user@host/db")
    redis_url: str | None = Field(
        None, description="Shared limits for several processes; unset = in-process state.")
    keys_file: Path | None = Field(None, description="Keyring JSON; default PALISADE_HOME/keys.json")
    keyring: SecretStr | None = Field(
        None, description="The keyring JSON itself, for deployments that inject secrets.")
    default_region: str = Field("US", description="Region for phone numbers written without +CC.")

    delivery: Literal["outbox", "external"] = "outbox"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_sender: str = "Palisade <no-reply@localhost>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    sms_webhook_url: str | None = None

    code_ttl_seconds: int = 600
    code_resend_interval_seconds: int = 30
    code_sends_per_identifier_per_hour: int = 5
    code_sends_per_address_per_hour: int = 30
    password_attempts_per_identifier_per_15min: int = 10
    session_idle_days: int = 30
    purge_interval_seconds: int = 60
    trusted_proxies: list[str] = Field(default_factory=list)
    leak_upload_max_bytes: int = Field(
        2 << 30, description="Largest dump POST /v1/admin/leaks/scans accepts (bytes).")
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for the operator API (/v1/admin); unset = disabled.")
    discovery_limits: dict[str, float] = Field(
        default_factory=dict, description="Overrides of DiscoveryLimits, as a JSON object.")
    log_level: str = "INFO"
    # apps and partners (services.apps)
    public_url: str = Field(
        "http://127.0.0.1:8000", description="The URL people and apps reach this server at: the "
        "OAuth issuer, the base of DPoP `htu` checks and of the Graph API resource identifier.")
    access_token_ttl_seconds: int = Field(600, ge=30, le=3600)
    refresh_token_ttl_days: int = Field(30, ge=1, le=365)
    app_access_expiry_days: int = Field(
        90, ge=1, description="An app's access to a person's non-public data ends this many days "
        "after the person last used it, until the person renews it.")
    app_inactivity_days: int = Field(
        90, ge=1, description="An app with no activity for this many days loses all its tokens.")
    dpop_max_age_seconds: int = Field(60, ge=5, le=600)
    oauth_requests_per_address_per_minute: int = Field(
        300, ge=1, description="Token, revocation and introspection requests per client "
        "address per minute (each may verify an argon2id client secret).")
    allow_private_callback_urls: bool = Field(
        False, description="Let apps register deletion callbacks to loopback or private "
        "addresses (local development only: Palisade calls these URLs itself).")
    # automatic audits of apps and partners (domain.apps.audit)
    canary_email_domain: str = Field(
        "example.org", description="The domain of canary email addresses: use one you own, "
        "whose mail goes nowhere, so a canary looks like anyone else.")
    audit_interval_seconds: int = Field(3600, ge=60)
    audit_window_days: int = Field(30, ge=1)
    audit_max_received_ratio: float = Field(
        2.0, gt=0, description="Flag an app that received data of more distinct people than "
        "this many times the people who consent to it now (the quiz app's was about 320).")
    audit_max_refused_calls: int = Field(20, ge=0)
    audit_max_reads_per_person_per_day: float = Field(200.0, gt=0)
    audit_suspend_received_ratio: float | None = Field(
        None, description="Suspend automatically above this ratio (unset: flag only).")
    audit_suspend_refused_calls: int | None = Field(
        None, description="Suspend automatically above this many calls outside purpose.")

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"PALISADE_TRUSTED_PROXIES: {network!r} is not an IP "
                                 "network such as 10.0.0.0/8") from None
        return value

    @field_validator("discovery_limits")
    @classmethod
    def _limits(cls, value: dict[str, float]) -> dict[str, float]:
        from palisade.domain.discovery.quotas import DiscoveryLimits

        DiscoveryLimits.from_overrides(value)  # raises ValueError naming the bad key
        return value

    @cached_property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Parsed once, not on every request."""
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.trusted_proxies)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'palisade.db').resolve()}"

    @property
    def resolved_keys_file(self) -> Path:
        return self.keys_file or self.home / "keys.json"
