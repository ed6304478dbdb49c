"""Who may do what on the platform's Kafka topics: the ACLs, derived in this one place.

Nothing here is a hand list. For each service (one principal each):

* WRITE on the topics whose registry entry names it as producer (`Topic.producer`);
* READ on the topics its subscriptions consume, and its subscriptions' consumer groups;
* WRITE on the dead-letter topics of what it consumes (the shared consumer writes there).

The subscriptions are the services' own handler tables (`handlers.py`), built here without
their runtime context (a handler table names its group and event types when it is built;
its handlers are only called by a running consumer). So a new topic, event type or group
changes the ACLs with no edit here, and a topic nobody is said to produce stays closed.

The admin principal (a super user on the local broker) creates topics and ACLs, runs
`mpa dlq` and the tests. The ACLs are applied with confluent-kafka's admin client
(librdkafka): aiokafka's has no ACL or SCRAM API.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mpa_common.messaging.subscriptions import Subscription
from mpa_common.settings import SERVICE_PORTS
from mpa_contracts.topics import MAIN_TOPICS, dead_letter_topic_for, service_source

SERVICES: tuple[str, ...] = tuple(SERVICE_PORTS)
ADMIN_PRINCIPAL = "admin"


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"


class Resource(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL on a literal resource name (unprefixed: a deployment's topic prefix
    is added when it is applied)."""

    service: str
    operation: Operation
    resource: Resource
    name: str

    def prefixed(self, prefix: str) -> Grant:
        return Grant(self.service, self.operation, self.resource, f"{prefix}{self.name}")


def service_subscriptions() -> Mapping[str, Sequence[Subscription[Any]]]:
    """Each service's subscriptions, as its composition root builds them."""
    from mpa_audit.handlers import log_subscription
    from mpa_intake.handlers import REFERRAL_ACCESS, REFERRAL_PROGRESS
    from mpa_notification.handlers import casework_subscription, subscription
    from mpa_referral.handlers import CaseEventHandlers

    # No context is needed to read a table: handlers capture it and run only in a consumer.
    no_context: Any = None
    referral_handlers: CaseEventHandlers = object.__new__(CaseEventHandlers)
    return {
        "intake": (REFERRAL_ACCESS, REFERRAL_PROGRESS),
        "referral": (referral_handlers.subscription(),),
        "notification": (subscription(no_context), casework_subscription(no_context)),
        "audit": (log_subscription(no_context, no_context),),
    }


def produced_topics(service: str) -> tuple[str, ...]:
    source = service_source(service)
    return tuple(topic.name for topic in MAIN_TOPICS if topic.producer == source)


def consumed_topics(subscriptions: Iterable[Subscription[Any]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for s in subscriptions for name in s.topics))


def access_plan(
    subscriptions: Mapping[str, Sequence[Subscription[Any]]] | None = None,
) -> tuple[Grant, ...]:
    """Every grant the platform's services need, unprefixed."""
    subscriptions = service_subscriptions() if subscriptions is None else subscriptions
    grants: set[Grant] = set()
    for service in SERVICES:
        own = subscriptions.get(service, ())
        for name in produced_topics(service):
            grants.add(Grant(service, Operation.WRITE, Resource.TOPIC, name))
        for name in consumed_topics(own):
            grants.add(Grant(service, Operation.READ, Resource.TOPIC, name))
            dead_letters = dead_letter_topic_for(name).name
            grants.add(Grant(service, Operation.WRITE, Resource.TOPIC, dead_letters))
        for group in dict.fromkeys(s.group for s in own):
            grants.add(Grant(service, Operation.READ, Resource.GROUP, group))
    return tuple(sorted(grants))


def kafka_principal(username: str) -> str:
    return f"User:{username}"


def service_usernames() -> dict[str, str]:
    """Each service's Kafka user: `<SERVICE>_KAFKA_SASL_USERNAME` where set (another
    cluster's users), else the local stack's `mpa-<service>`."""
    return {
        service: os.environ.get(f"{service.upper()}_KAFKA_SASL_USERNAME", "").strip()
        or f"mpa-{service}"
        for service in SERVICES
    }


def acls_managed() -> bool:
    """`KAFKA_MANAGE_ACLS=false` leaves a cluster's ACLs to its operator."""
    return os.environ.get("KAFKA_MANAGE_ACLS", "true").strip().lower() not in ("0", "false", "no")


# ---- applying the plan (confluent-kafka) -------------------------------------------------


def librdkafka_config(options: Mapping[str, Any]) -> dict[str, str]:
    """The same connection as aiokafka options, in librdkafka's configuration names."""
    config = {
        "bootstrap.servers": str(options["bootstrap_servers"]),
        "security.protocol": str(options.get("security_protocol", "PLAINTEXT")).lower(),
    }
    if str(config["security.protocol"]).startswith("sasl_"):
        config.update(
            {
                "sasl.mechanisms": str(options["sasl_mechanism"]),
                "sasl.username": str(options["sasl_plain_username"]),
                "sasl.password": str(options["sasl_plain_password"]),
            }
        )
    return config


class AccessNotManaged(RuntimeError):
    """The cluster has no authorizer, or the admin may not change its ACLs."""


@dataclass(frozen=True)
class AccessReport:
    created: int
    present: int
    removed: int
    managed: bool = True


def _bindings(grants: Iterable[Grant], usernames: Mapping[str, str]) -> list[Any]:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    return [
        AclBinding(
            ResourceType[grant.resource.value],
            grant.name,
            ResourcePatternType.LITERAL,
            kafka_principal(usernames[grant.service]),
            "*",
            AclOperation[grant.operation.value],
            AclPermissionType.ALLOW,
        )
        for grant in grants
    ]


def _key(binding: Any) -> tuple[str, str, str, str, str]:
    return (
        binding.restype.name,
        binding.name,
        binding.principal,
        binding.operation.name,
        binding.permission_type.name,
    )


def ensure_access(
    admin_options: Mapping[str, Any],
    usernames: Mapping[str, str],
    prefixes: Sequence[str],
    existing_topics: Iterable[str],
    *,
    timeout: float = 30.0,
) -> AccessReport:
    """Creates the plan's ACLs for each deployment prefix, and removes the ones of this
    plan's services whose deployment is gone (no topic of it left), so that test runs do
    not pile ACLs up. Creating an ACL that exists is a no-op on the broker."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    plan = access_plan()
    admin = AdminClient(librdkafka_config(admin_options))
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )

    def refused(error: KafkaException) -> AccessNotManaged:
        return AccessNotManaged(
            f"cannot manage the cluster's ACLs as {admin_options.get('sasl_plain_username')}: "
            f"{error} (set MPA_ADMIN_KAFKA_*, or KAFKA_MANAGE_ACLS=false)"
        )

    try:
        current = admin.describe_acls(everything, request_timeout=timeout).result()
    except KafkaException as error:
        if _security_disabled(error):
            return AccessReport(0, 0, 0, managed=False)
        raise refused(error) from error
    wanted = _bindings((g.prefixed(p) for p in prefixes for g in plan), usernames)
    have = {_key(b) for b in current}
    missing = [b for b in wanted if _key(b) not in have]
    if missing:
        try:
            for future in admin.create_acls(missing, request_timeout=timeout).values():
                future.result()
        except KafkaException as error:
            # Some brokers without an authorizer answer DescribeAcls with nothing and refuse
            # only the creation.
            if _security_disabled(error):
                return AccessReport(0, 0, 0, managed=False)
            raise refused(error) from error
        # The controller has them; the broker's authorizer applies them a moment later.
        # DescribeAcls is answered from the broker's authorizer: wait until it sees them all.
        _wait_visible(admin, everything, {_key(b) for b in missing}, timeout)
    stale = _stale(current, plan, usernames, set(existing_topics) | _topics_of(prefixes))
    if stale:
        filters = [
            AclBindingFilter(
                b.restype,
                b.name,
                ResourcePatternType.LITERAL,
                b.principal,
                b.host,
                b.operation,
                b.permission_type,
            )
            for b in stale
        ]
        for future in admin.delete_acls(filters, request_timeout=timeout).values():
            future.result()
    return AccessReport(len(missing), len(wanted) - len(missing), len(stale))


def _security_disabled(error: Exception) -> bool:
    code = error.args[0].name() if error.args and hasattr(error.args[0], "name") else ""
    return code in ("SECURITY_DISABLED", "_UNSUPPORTED_FEATURE")


def _wait_visible(admin: Any, everything: Any, keys: set[tuple[str, ...]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        seen = {_key(b) for b in admin.describe_acls(everything, request_timeout=timeout).result()}
        if keys <= seen:
            return
        if time.monotonic() > deadline:
            raise AccessNotManaged(f"{len(keys - seen)} new ACLs not applied by the broker")
        time.sleep(0.05)


def _topics_of(prefixes: Sequence[str]) -> set[str]:
    return {f"{prefix}{t.name}" for prefix in prefixes for t in MAIN_TOPICS}


def _stale(
    current: Iterable[Any], plan: Sequence[Grant], usernames: Mapping[str, str], topics: set[str]
) -> list[Any]:
    """Bindings of the plan's shape whose deployment prefix has no main topic any more."""
    principals = {kafka_principal(u) for name, u in usernames.items() if name != ADMIN_PRINCIPAL}
    suffixes = {(g.resource.value, g.name) for g in plan}
    live_prefixes = {
        topic[: -len(t.name)] for topic in topics for t in MAIN_TOPICS if topic.endswith(t.name)
    }
    stale = []
    for binding in current:
        if binding.principal not in principals:
            continue
        for resource, name in suffixes:
            if binding.restype.name == resource and binding.name.endswith(name):
                if binding.name[: -len(name)] not in live_prefixes:
                    stale.append(binding)
                break
    return stale


def ensure_scram_users(
    admin_options: Mapping[str, Any], users: Mapping[str, tuple[str, str]]
) -> int:
    """Creates the SCRAM-SHA-512 users the broker lacks (a principal added after the storage
    was formatted); `users` maps a principal to (user name, password). Returns how many."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient(librdkafka_config(admin_options))
    # Without names: one future for every user that has a credential.
    known = set(admin.describe_user_scram_credentials().result(timeout=30))
    missing = [(u, pw) for u, pw in users.values() if u not in known]
    if missing:
        upserts = [
            UserScramCredentialUpsertion(
                username, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password.encode()
            )
            for username, password in missing
        ]
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result()
    return len(missing)
