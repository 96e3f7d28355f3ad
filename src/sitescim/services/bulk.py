"""Running a SCIM Bulk job (RFC 7644 §3.7) read by ``scim.bulk_requests``.

- Each operation runs the use case its single request would run
  (``services.users``, ``services.groups``) in a SAVEPOINT of the request's one
  transaction: a failing operation rolls back only itself and is reported in
  its result, and a thousand creations are one commit, not a thousand.
- A reference to a POST that failed is refused with 409, as RFC 7644 §3.7.1 allows.
- With ``failOnErrors`` N, nothing runs after the Nth error, and the result
  lists only the operations that ran.

The site is the token's, as in every use case (T10): an id of another site is
absent (404) whichever operation names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    ConflictException,
)
from sqlalchemy.orm import Session

from sitescim.db.repositories import sites as sites_repo
from sitescim.domain.actions import Action
from sitescim.scim import bulk_requests
from sitescim.scim.etags import make_etag
from sitescim.services import audit, group_creation, user_batches, user_creation
from sitescim.services import groups as group_service
from sitescim.services import users as user_service
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken

_ACTIONS = {
    ("Users", "POST"): Action.SCIM_USER_CREATE,
    ("Users", "PUT"): Action.SCIM_USER_REPLACE,
    ("Users", "PATCH"): Action.SCIM_USER_PATCH,
    ("Users", "DELETE"): Action.SCIM_USER_DELETE,
    ("Groups", "POST"): Action.SCIM_GROUP_CREATE,
    ("Groups", "PUT"): Action.SCIM_GROUP_REPLACE,
    ("Groups", "PATCH"): Action.SCIM_GROUP_PATCH,
    ("Groups", "DELETE"): Action.SCIM_GROUP_DELETE,
}


_STATUS = {"POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


@dataclass(frozen=True, slots=True)
class OperationResult:
    """What an operation did, or the error it failed with (whose status the web layer knows)."""

    index: int
    method: str
    bulk_id: str | None
    status: int | None
    resource_id: str | None = None
    location: str | None = None
    version: str | None = None
    error: Exception | None = None


def run_job(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    job: bulk_requests.BulkJob,
    *,
    base_url: str,
    address: str | None = None,
) -> list[OperationResult]:
    """Run the job in the caller's transaction; results in request order, ran ones only.

    Consecutive creations of users, or of groups, that refer to no bulkId are
    written as one batch (``user_batches.create_users``,
    ``group_creation.create_groups``); the operations a batch leaves, and every
    other one, run alone in a savepoint. With ``failOnErrors`` every operation
    runs alone, so that nothing runs after the Nth error. Each operation writes
    its events in its savepoint, a batch all of its events in one INSERT.
    """
    order, refused = bulk_requests.plan(job)
    # The session's identity map holds rows weakly: kept referenced here, the site
    # row is read once for the job instead of once per operation.
    _pinned_site = sites_repo.get_site(session, token.site_id)
    run = _Run(session, runtime, token, job, base_url, address)
    batch: list[bulk_requests.Operation] = []
    for index in order:
        if job.fail_on_errors is not None and run.errors >= job.fail_on_errors:
            break
        op = job.operations[index]
        if index not in refused and _batchable(op, job):
            if batch and batch[0].endpoint != op.endpoint:
                run.batch(batch)
                batch = []
            batch.append(op)
            continue
        run.batch(batch)
        batch = []
        run.one(op, refused.get(index))
    run.batch(batch)
    audit.record(
        session,
        now=runtime.clock(),
        site_id=token.site_id,
        action=Action.SCIM_BULK,
        who=token.who,
        address=address,
        detail={"operations": len(job.operations), "ran": len(run.results), "errors": run.errors},
    )
    return [run.results[index] for index in sorted(run.results)]


def _batchable(op: bulk_requests.Operation, job: bulk_requests.BulkJob) -> bool:
    return (
        job.fail_on_errors is None
        and op.method == bulk_requests.Method.POST
        and not op.references
        and op.data is not None
    )


class _Run:
    """The state of a job as it runs: results so far, resources created, errors."""

    def __init__(
        self,
        session: Session,
        runtime: Runtime,
        token: AuthenticatedToken,
        job: bulk_requests.BulkJob,
        base_url: str,
        address: str | None,
    ) -> None:
        self.session, self.runtime, self.token, self.job = session, runtime, token, job
        self.base_url, self.address = base_url, address
        self.created: dict[str, str] = {}
        self.results: dict[int, OperationResult] = {}
        self.errors = 0

    def one(self, op: bulk_requests.Operation, refusal: Exception | None = None) -> None:
        session, created = self.session, self.created
        error = refusal or _missing_reference(op, self.job, created)
        if error is None:
            try:
                with session.begin_nested():
                    result = _apply(
                        session, self.runtime, self.token, op, created, self.base_url, self.address
                    )
            except Exception as failure:
                error = failure
                result = _failed(op, failure, created, self.base_url)
            else:
                if (
                    op.method == bulk_requests.Method.POST
                    and op.bulk_id is not None
                    and result.resource_id
                ):
                    created[op.bulk_id] = result.resource_id
        else:
            _audit_refusal(session, self.runtime, self.token, op, error, created, self.address)
            result = _failed(op, error, created, self.base_url)
        if error is not None:
            self.errors += 1
        self.results[op.index] = result

    def batch(self, ops: list[bulk_requests.Operation]) -> None:
        """Creations of one endpoint as a batch; what it leaves runs alone."""
        if not ops:
            return
        bodies = [op.data for op in ops if op.data is not None]
        created: list[tuple[str, str] | None]
        if ops[0].endpoint == "Users":
            documents = user_batches.create_users(
                self.session,
                self.runtime,
                self.token,
                bodies,
                base_url=self.base_url,
                address=self.address,
            )
            created = [
                None if document is None else (document["id"], document["meta"]["version"])
                for document in documents
            ]
        else:
            groups = group_creation.create_groups(
                self.session,
                self.runtime,
                self.token,
                bodies,
                base_url=self.base_url,
                address=self.address,
            )
            created = [
                None if group is None else (group.id, make_etag(group.id, group.version))
                for group in groups
            ]
        left: list[bulk_requests.Operation] = []
        for op, made in zip(ops, created, strict=True):
            if made is None:
                left.append(op)
                continue
            resource_id, version = made
            if op.bulk_id is not None:
                self.created[op.bulk_id] = resource_id
            self.results[op.index] = OperationResult(
                index=op.index,
                method=op.method.value,
                bulk_id=op.bulk_id,
                status=_STATUS[op.method],
                resource_id=resource_id,
                location=_location(self.base_url, op.endpoint, resource_id),
                version=version,
            )
        for op in left:
            self.one(op)


def _missing_reference(
    op: bulk_requests.Operation, job: bulk_requests.BulkJob, created: dict[str, str]
) -> Exception | None:
    for ref in op.references:
        if ref not in created:
            declaring = next(
                o.index
                for o in job.operations
                if o.method == bulk_requests.Method.POST and o.bulk_id == ref
            )
            return ConflictException(
                detail=f"bulkId {ref!r} stands for nothing: Operations[{declaring}], "
                "which was to create it, failed."
            )
    return None


def _target(op: bulk_requests.Operation, created: dict[str, str]) -> str | None:
    if op.target is not None and op.target.startswith(bulk_requests.REFERENCE_PREFIX):
        return created.get(op.target.removeprefix(bulk_requests.REFERENCE_PREFIX))
    return op.target


def _location(base_url: str, endpoint: str, resource_id: str | None) -> str | None:
    return None if resource_id is None else f"{base_url.rstrip('/')}/{endpoint}/{resource_id}"


def _apply(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    op: bulk_requests.Operation,
    created: dict[str, str],
    base_url: str,
    address: str | None,
) -> OperationResult:
    """The operation's own use case: the same rules, audit and errors as its single request."""
    data = (
        bulk_requests.resolved(op.data, created)
        if op.data is not None and op.references
        else op.data
    )
    target = _target(op, created)
    resource_id, version = _run_use_case(
        session, runtime, token, op, target, data, base_url, address
    )
    return OperationResult(
        index=op.index,
        method=op.method.value,
        bulk_id=op.bulk_id,
        status=_STATUS[op.method],
        resource_id=resource_id,
        location=_location(base_url, op.endpoint, resource_id),
        version=version,
    )


@dataclass(frozen=True, slots=True)
class _UseCases:
    """An endpoint's single-request use cases, and the id and version of what they return."""

    create: Callable[..., Any]
    replace: Callable[..., Any]
    patch: Callable[..., Any]
    delete: Callable[..., Any]
    identify: Callable[[Any], tuple[str, str]]
    options: Callable[[str], dict[str, Any]]  # base URL -> keywords of create/replace/patch


_USE_CASES = {
    "Users": _UseCases(
        create=user_creation.create_user,
        replace=user_service.replace_user,
        patch=user_service.patch_user,
        delete=user_service.delete_user,
        identify=lambda document: (document["id"], document["meta"]["version"]),
        options=lambda base_url: {"base_url": base_url},
    ),
    "Groups": _UseCases(
        create=group_creation.create_group,
        replace=group_service.replace_group,
        patch=group_service.patch_group,
        delete=group_service.delete_group,
        identify=lambda result: (result.group.id, make_etag(result.group.id, result.group.version)),
        # a group's members are not read back
        options=lambda base_url: {"base_url": base_url, "with_members": False},
    ),
}


def _run_use_case(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    op: bulk_requests.Operation,
    target: str | None,
    data: dict[str, Any] | None,
    base_url: str,
    address: str | None,
) -> tuple[str | None, str | None]:
    cases = _USE_CASES[op.endpoint]
    if op.method == bulk_requests.Method.DELETE:
        cases.delete(
            session,
            runtime,
            token,
            target,
            base_url=base_url,
            if_match=op.version,
            address=address,
        )
        return target, None
    shown = cases.options(base_url)
    if op.method == bulk_requests.Method.POST:
        result = cases.create(session, runtime, token, data, address=address, **shown)
    else:
        change = cases.replace if op.method == bulk_requests.Method.PUT else cases.patch
        result = change(
            session, runtime, token, target, data, if_match=op.version, address=address, **shown
        )
    return cases.identify(result)


def _failed(
    op: bulk_requests.Operation, error: Exception, created: dict[str, str], base_url: str
) -> OperationResult:
    """RFC 7644 §3.7: a failed POST has no location; other methods keep theirs."""
    target = None if op.method == bulk_requests.Method.POST else _target(op, created)
    return OperationResult(
        index=op.index,
        method=op.method.value,
        bulk_id=op.bulk_id,
        status=None,
        resource_id=target,
        location=_location(base_url, op.endpoint, target),
        error=error,
    )


def _audit_refusal(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    op: bulk_requests.Operation,
    error: Exception,
    created: dict[str, str],
    address: str | None,
) -> None:
    """An operation refused before its use case ran is audited like one its use case refused."""
    resource = "user" if op.endpoint == "Users" else "group"
    audit.record_failure(
        session,
        runtime,
        token,
        error,
        action=_ACTIONS[(op.endpoint, op.method.value)],
        target=(resource, None if op.method == bulk_requests.Method.POST else _target(op, created)),
        address=address,
        attributes=audit.requested_attributes(op.data),
    )
