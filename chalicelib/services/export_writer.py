"""Rows in, CSV or XLSX out to S3 by multipart upload, in flat memory whatever the row count.

CSV is UTF-8 with a BOM (so Excel shows Chinese) and every cell that a spreadsheet would read as
a formula (= + - @, tab, carriage return) is neutralised with a leading apostrophe (OWASP CSV
injection). XLSX is written by xlsxwriter in constant-memory mode to a temporary file, then
streamed up in parts.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

PART_BYTES = 8 * 1024 * 1024  # S3 parts must be >= 5 MiB except the last
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_STARTS)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class MultipartSink:
    """Buffers bytes into parts and uploads each as it fills. Aborts the upload on error."""

    def __init__(self, s3, bucket: str, key: str, content_type: str):
        self.s3, self.bucket, self.key = s3, bucket, key
        self.upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type
        )["UploadId"]
        self.buffer = bytearray()
        self.parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= PART_BYTES:
            self._upload(bytes(self.buffer[:PART_BYTES]))
            del self.buffer[:PART_BYTES]

    def _upload(self, chunk: bytes) -> None:
        number = len(self.parts) + 1
        etag = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=chunk
        )["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag})

    def close(self) -> None:
        if self.buffer or not self.parts:
            self._upload(bytes(self.buffer))
            self.buffer.clear()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    def abort(self) -> None:
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


def _safe_row(row: Sequence[Any]) -> list[Any]:
    """The row with every formula-looking text cell prefixed by an apostrophe (the hot loop)."""
    return [
        ("'" + cell) if type(cell) is str and cell[:1] in _FORMULA_FIRST else cell for cell in row
    ]


def write_csv(
    sink, header: Sequence[str], rows: Iterable[Sequence[Any]], flush_chars: int = 1 << 20
) -> int:
    """Rows written 500 at a time by one writerows call each (the per-row Python overhead is
    most of the cost), the text flushed to the sink as it passes `flush_chars`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    sink.write("\ufeff".encode())
    writer.writerow(header)
    count, rows = 0, iter(rows)
    while batch := list(islice(rows, 500)):
        writer.writerows(map(_safe_row, batch))
        count += len(batch)
        if buffer.tell() >= flush_chars:
            sink.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    sink.write(buffer.getvalue().encode("utf-8"))
    return count


def write_xlsx(
    sink, header: Sequence[str], rows: Iterable[Sequence[Any]], sheet: str = "export"
) -> int:
    import xlsxwriter  # deferred: only exports need it

    count = 0
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
        workbook = xlsxwriter.Workbook(
            handle.name,
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
        )
        worksheet = workbook.add_worksheet(sheet)
        bold = workbook.add_format({"bold": True})
        worksheet.write_row(0, 0, list(header), bold)
        for count, row in enumerate(rows, start=1):
            worksheet.write_row(count, 0, _safe_row(row))
        workbook.close()
        handle.seek(0)
        while chunk := handle.read(PART_BYTES):
            sink.write(chunk)
    return count


def write(sink, fmt: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write every row, close the upload and return the row count; abort the upload on failure."""
    try:
        count = (write_csv if fmt == "csv" else write_xlsx)(sink, header, rows)
    except BaseException:
        sink.abort()
        raise
    sink.close()
    return count
