"""`make run`'s console lines: human-readable by default, the fields as key=value."""

import logging

from local.console import HumanFormatter, quiet_handler


def test_a_log_record_reads_as_one_line_with_its_fields():
    record = logging.makeLogRecord(
        {
            "msg": "anomaly recorded",
            "levelname": "WARNING",
            "created": 0,
            "anomaly_id": "amount_mismatch#O1",
            "hold": True,
            "why": "two words",
            "order_no": None,
        }
    )
    line = HumanFormatter().format(record)
    assert line.endswith(
        'WARN  anomaly recorded  anomaly_id=amount_mismatch#O1 hold=true why="two words"'
    )


def test_the_quiet_handler_drops_only_the_access_line():
    class Handler:
        def __init__(self):
            self.lines = []

        def log_request(self, code="-", size="-"):
            self.lines.append("access")

    handler = quiet_handler(Handler)()
    handler.log_request(200)
    assert handler.lines == []
