"""Anomaly repository: one item per finding, created once (conditional put on its id)."""
from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import PutError

from ..domain.anomaly import Anomaly, AnomalyStatus, Finding, Severity
from ..domain.clock import day_of, from_iso, to_iso
from .models import AnomalyModel


def to_domain(item: AnomalyModel) -> Anomaly:
    return Anomaly(anomaly_id=item.anomaly_id, rule=item.rule, severity=Severity(item.severity),
                   status=AnomalyStatus(item.status), created_at=from_iso(item.created_at),
                   details=item.details or {}, order_no=item.order_no, channel=item.channel,
                   updated_at=from_iso(item.updated_at) if item.updated_at else None,
                   updated_by=item.updated_by, note=item.note)


def create(finding: Finding, at: datetime) -> bool:
    """Store the finding as an open anomaly. False when it exists already (a replay)."""
    item = AnomalyModel(finding.anomaly_id, rule=finding.rule, severity=finding.severity.value,
                        status=AnomalyStatus.OPEN.value, order_no=finding.order_no,
                        channel=finding.channel, created_at=to_iso(at), created_day=day_of(at),
                        details=finding.details or None)
    try:
        item.save(condition=AnomalyModel.anomaly_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get(anomaly_id: str) -> Anomaly | None:
    try:
        return to_domain(AnomalyModel.get(anomaly_id))
    except AnomalyModel.DoesNotExist:
        return None


def set_status(anomaly_id: str, status: AnomalyStatus, at: datetime, by: str | None,
               note: str | None) -> Anomaly:
    item = AnomalyModel(anomaly_id)
    actions = [AnomalyModel.status.set(status.value), AnomalyModel.updated_at.set(to_iso(at)),
               AnomalyModel.updated_by.set(by)]
    if note:
        actions.append(AnomalyModel.note.set(note))
    item.update(actions=actions, condition=AnomalyModel.anomaly_id.exists())
    return to_domain(item)


def for_order(order_no: str) -> list[Anomaly]:
    return [to_domain(item) for item in AnomalyModel.by_order.query(order_no)]
