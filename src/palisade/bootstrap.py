"""The one place that wires adapters into services. Entry points call `build` and nothing
else constructs infrastructure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis
from sqlalchemy import Engine

from palisade.adapters.crypto.blind_index import BlindIndex
from palisade.adapters.crypto.envelope import Envelope
from palisade.adapters.crypto.keyring import Keyring, KeyringSource
from palisade.adapters.crypto.log_signing import LogSigner
from palisade.adapters.crypto.seen_tags import SeenTags
from palisade.adapters.delivery.codes import (
    CodeDelivery,
    OutboxDelivery,
    RoutedDelivery,
    SmtpDelivery,
    WebhookSmsDelivery,
)
from palisade.adapters.limits.counter_store import (
    CounterStore,
    MemoryCounterStore,
    RedisCounterStore,
)
from palisade.adapters.limits.counters import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from palisade.adapters.oauth.rfc9449_dpop import DPoPVerifier
from palisade.adapters.passwords import Passwords
from palisade.adapters.storage.database import UnitOfWork, make_engine, migrate
from palisade.config import ConfigurationError, Settings
from palisade.domain.apps.audit import AuditPolicy
from palisade.domain.discovery.quotas import DiscoveryLimits
from palisade.services.accounts import Accounts
from palisade.services.apps.access_events import DatabaseAccessLog
from palisade.services.apps.audit import Audits
from palisade.services.apps.callbacks import DeletionCallbacks
from palisade.services.apps.graph import Graph
from palisade.services.apps.oauth_server import OAuthServer
from palisade.services.apps.partners import Partners
from palisade.services.apps.registry import AppRegistry
from palisade.services.apps.resource import ResourceGuard
from palisade.services.clock import Clock, system_clock
from palisade.services.discovery.guard import DiscoveryGuard
from palisade.services.discovery.sync import Discovery
from palisade.services.leaks.canaries import Canaries
from palisade.services.leaks.incidents import LeakResponse
from palisade.services.maintenance import Maintenance
from palisade.services.messaging import Messaging
from palisade.services.notifications import Notifications
from palisade.services.people import PersonKeys
from palisade.services.privacy_center import PrivacyCenter
from palisade.services.profiles import Profiles
from palisade.services.social import Social
from palisade.services.transparency.export import PersonalDataExport
from palisade.services.transparency.log import TransparencyLog
from palisade.services.transparency.operator_access import OperatorAccess


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    uow: UnitOfWork
    keyrings: KeyringSource
    envelope: Envelope
    limiter: RateLimiter
    delivery: CodeDelivery
    outbox: OutboxDelivery
    accounts: Accounts
    profiles: Profiles
    social: Social
    messaging: Messaging
    maintenance: Maintenance
    discovery: Discovery
    apps: AppRegistry
    partners: Partners
    callbacks: DeletionCallbacks
    audits: Audits
    transparency: TransparencyLog
    operator_access: OperatorAccess
    export: PersonalDataExport
    privacy_center: PrivacyCenter
    canaries: Canaries
    leaks: LeakResponse
    notifications: Notifications
    oauth: OAuthServer
    resource: ResourceGuard
    graph: Graph
    clock: Clock

    def close(self) -> None:
        self.discovery.close()
        self.engine.dispose()


def initialise(settings: Settings) -> bool:
    """Create the home folder, the keyring (if none) and the schema. Returns True if a new
    keyring was made. Safe to run again."""
    settings.home.mkdir(parents=True, exist_ok=True)
    created = False
    if settings.keyring is None:
        path = settings.resolved_keys_file
        if not path.exists():
            Keyring.generate().save(path)
            created = True
    migrate(settings.resolved_database_url)
    return created


def _delivery(settings: Settings, keyrings: KeyringSource,
              outbox: OutboxDelivery) -> CodeDelivery:
    if settings.delivery == "outbox":
        return outbox
    if not settings.sms_webhook_url:
        raise ConfigurationError("PALISADE_DELIVERY=external needs PALISADE_SMS_WEBHOOK_URL")
    email = SmtpDelivery(settings.smtp_host, settings.smtp_port, settings.smtp_sender,
                         settings.smtp_username,
                         settings.smtp_password.get_secret_value()
                         if settings.smtp_password else None, settings.smtp_starttls)
    sms = WebhookSmsDelivery(settings.sms_webhook_url, keyrings.get().secrets["outbox"])
    return RoutedDelivery(email=email, sms=sms)


def build(settings: Settings | None = None, clock: Clock = system_clock,
          limiter: RateLimiter | None = None, passwords: Passwords | None = None,
          counters: CounterStore | None = None) -> Platform:
    settings = settings or Settings()
    keyrings = KeyringSource(
        None if settings.keyring else settings.resolved_keys_file,
        settings.keyring.get_secret_value() if settings.keyring else None,
    )
    engine = make_engine(settings.resolved_database_url)
    uow = UnitOfWork(engine)
    envelope = Envelope(keyrings)
    redis_client = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
    if limiter is None:
        limiter = RedisRateLimiter(redis_client) if redis_client else MemoryRateLimiter()
    if counters is None:
        counters = RedisCounterStore(redis_client) if redis_client else MemoryCounterStore()
    outbox = OutboxDelivery(lambda: keyrings.get().secrets["outbox"])
    delivery = _delivery(settings, keyrings, outbox)
    keys = PersonKeys(envelope)
    passwords = passwords or Passwords()
    # The blind-index key is read once: re-keying it means recomputing every index (not
    # supported online), so it is deliberately not rotated with the master keys.
    blind_index = BlindIndex(keyrings.get().secrets["blind_index"])
    accounts = Accounts(settings, uow, keys, blind_index,
                        lambda: keyrings.get().secrets["one_time_codes"],
                        passwords, limiter, delivery, clock)
    profiles = Profiles(uow, keys, clock)
    canaries = Canaries(uow, clock, settings.canary_email_domain, blind_index)
    discovery = Discovery(
        uow, DiscoveryGuard(DiscoveryLimits.from_overrides(settings.discovery_limits), counters),
        blind_index, SeenTags(keyrings.get().secrets["blind_index"]), profiles, clock,
        settings.default_region, canaries)
    # DPoP proofs are accepted once (RFC 9449 §11.1): the seen-set is shared by every process
    # through Redis in production, in-process in the embedded mode.
    jti_store = (RedisCounterStore(redis_client, prefix="palisade:dpop:") if redis_client
                 else MemoryCounterStore())
    dpop = DPoPVerifier(lambda key, ttl: jti_store.first_time_deferred(key, ttl,
                                                                       clock().timestamp()),
                        lambda: clock().timestamp(),
                        max_age_seconds=settings.dpop_max_age_seconds)
    access_expiry = timedelta(days=settings.app_access_expiry_days)

    def outbox_secret() -> bytes:
        return keyrings.get().secrets["outbox"]

    # derived once, like the blind-index key: this secret is not rotated online
    transparency = TransparencyLog(uow, keys, LogSigner(keyrings.get().secrets["one_time_codes"]),
                                   clock)
    registry = AppRegistry(uow, passwords, clock, access_expiry, outbox_secret,
                           settings.allow_private_callback_urls)
    social, messaging = Social(uow, clock), Messaging(uow, keys, clock)
    notifications = Notifications(uow, keys, delivery, clock)
    return Platform(
        settings=settings, engine=engine, uow=uow, keyrings=keyrings, envelope=envelope,
        limiter=limiter, delivery=delivery, outbox=outbox, accounts=accounts,
        profiles=profiles, social=social, discovery=discovery, messaging=messaging,
        maintenance=Maintenance(uow, envelope, keyrings, transparency, clock),
        apps=registry,
        partners=Partners(uow, registry, clock),
        callbacks=DeletionCallbacks(uow, outbox_secret, clock),
        notifications=notifications,
        transparency=transparency,
        operator_access=OperatorAccess(uow, keys, profiles, clock),
        export=PersonalDataExport(settings, uow, accounts, profiles, social, messaging,
                                  discovery, registry, notifications, transparency, clock),
        privacy_center=PrivacyCenter(uow, registry, transparency, clock),
        audits=Audits(uow, registry, AuditPolicy(
            max_received_ratio=settings.audit_max_received_ratio,
            max_refused_calls=settings.audit_max_refused_calls,
            max_reads_per_person_per_day=settings.audit_max_reads_per_person_per_day,
            suspend_received_ratio=settings.audit_suspend_received_ratio,
            suspend_refused_calls=settings.audit_suspend_refused_calls),
            timedelta(days=settings.audit_window_days), clock),
        oauth=OAuthServer(settings, uow, passwords, dpop, clock),
        resource=ResourceGuard(settings, uow, dpop, clock),
        graph=Graph(uow, profiles, clock, access_expiry, DatabaseAccessLog(), canaries),
        canaries=canaries,
        leaks=LeakResponse(uow, keys, blind_index, clock, settings.default_region),
        clock=clock,
    )
