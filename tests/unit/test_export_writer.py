"""The export writer alone: CSV with BOM and neutralised formulas, XLSX readable by openpyxl,
parts of at least 5 MiB, and memory that stays flat whatever the row count."""

from __future__ import annotations

import contextlib
import csv
import io
import tracemalloc

import openpyxl

from chalicelib.services import export_writer


class MemorySink:
    def __init__(self, keep: bool = True):
        self.keep, self.data, self.size, self.closed, self.aborted = (
            keep,
            bytearray(),
            0,
            False,
            False,
        )

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.keep:
            self.data += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


ROWS = [
    ["ORD1", "VIP会员 月卡", "58.00", '=HYPERLINK("http://evil")'],
    ["ORD2", "+86 138", "-1", "@SUM(A1)"],
    ["ORD3", "普通", "0.01", "\tcmd"],
]


def test_csv_has_bom_chinese_and_no_live_formulas():
    sink = MemorySink()
    assert (
        export_writer.write(sink, "csv", ["订单编号", "商品", "金额", "备注"], ROWS) == 3
        and sink.closed
    )
    text = bytes(sink.data).decode("utf-8")
    assert text.startswith("\ufeff订单编号")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][:3] == ["ORD1", "VIP会员 月卡", "58.00"]
    assert [r[3] for r in rows[1:]] == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)", "'\tcmd"]
    assert rows[2][1] == "'+86 138" and rows[2][2] == "'-1"


def test_xlsx_opens_with_openpyxl():
    sink = MemorySink()
    export_writer.write(sink, "xlsx", ["订单编号", "商品", "金额", "备注"], ROWS)
    sheet = openpyxl.load_workbook(io.BytesIO(bytes(sink.data))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == ["订单编号", "商品", "金额", "备注"]
    assert values[1] == ["ORD1", "VIP会员 月卡", "58.00", '\'=HYPERLINK("http://evil")']
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_failure_aborts_the_upload():
    def broken():
        yield ["ok"]
        raise RuntimeError("source failed")

    sink = MemorySink()
    with contextlib.suppress(RuntimeError):
        export_writer.write(sink, "csv", ["a"], broken())
    assert sink.aborted and not sink.closed


def _peak(fmt: str, rows: int) -> int:
    def generate():
        for i in range(rows):
            yield [
                f"ORD{i:08d}",
                "Steam 充值卡 50元",
                "58.00",
                "CNY",
                "paid",
                "zh***@qq.com",
                "36.110.*.*",
            ]

    tracemalloc.start()
    export_writer.write(
        MemorySink(keep=False), fmt, ["a", "b", "c", "d", "e", "f", "g"], generate()
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_is_flat_in_the_row_count():
    """Past the first buffer flush, five times the rows take no more memory.

    CSV reaches its steady state at its second 1 MiB flush (about 35,000 of these rows); XLSX
    in constant-memory mode writes each row out as it goes, so a few thousand rows show it (and
    cost seconds under tracemalloc, not tens of seconds)."""
    for fmt, rows in (("csv", 40_000), ("xlsx", 2_000)):
        small, large = _peak(fmt, rows), _peak(fmt, rows * 5)
        assert large < small * 1.2 + 500_000, (fmt, small, large)
        assert large < 30 * 2**20, (fmt, large)


def test_multipart_parts_are_big_enough(monkeypatch):
    uploaded = []

    class FakeS3:
        def create_multipart_upload(self, **kw):
            return {"UploadId": "u"}

        def upload_part(self, **kw):
            uploaded.append(len(kw["Body"]))
            return {"ETag": str(len(uploaded))}

        def complete_multipart_upload(self, **kw):
            assert [p["PartNumber"] for p in kw["MultipartUpload"]["Parts"]] == list(
                range(1, len(uploaded) + 1)
            )

    sink = export_writer.MultipartSink(FakeS3(), "b", "k", "text/csv")
    rows = ([f"{i:09d}", "x" * 90] for i in range(200_000))
    export_writer.write(sink, "csv", ["id", "pad"], rows)
    assert len(uploaded) >= 2 and all(size == export_writer.PART_BYTES for size in uploaded[:-1])
    assert 0 < uploaded[-1] <= export_writer.PART_BYTES
